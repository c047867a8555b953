"""One distribution: the wheel holds our four packages, the migrations, the code tables and the
`dualcode` console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_package_data_file_and_the_console_script(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("dualcode-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.startswith("dualcode-")}
    assert tops == {"adapter", "mappings", "his_connectors", "sandbox"}
    assert "adapter/storage/migrations/env.py" in names
    assert any(name.startswith("adapter/storage/migrations/versions/0001") for name in names)
    assert "mappings/codes/gbt2260_regions.csv" in names
    metadata = next(name for name in names if name.endswith("entry_points.txt"))
    assert "dualcode = adapter.cli:main" in zipfile.ZipFile(wheel).read(metadata).decode()
