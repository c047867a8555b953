"""Imports flow one way: adapter -> {mappings, his_connectors}; his_connectors -> mappings;
mappings -> nothing of ours; sandbox -> mappings only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"adapter", "mappings", "his_connectors", "sandbox"}
ALLOWED = {
    "adapter": {"adapter", "mappings", "his_connectors"},
    "his_connectors": {"his_connectors", "mappings"},
    "mappings": {"mappings"},
    "sandbox": {"sandbox", "mappings"},
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add((alias.name.split(".")[0], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for top, line in imported_packages(path):
            if top in OURS and top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_allowed_direction(package: str) -> None:
    if not (ROOT / package).is_dir():
        pytest.skip(f"{package} does not exist yet")
    assert violations(package) == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("import adapter.errors\nfrom his_connectors import base\n", encoding="utf-8")
    assert {top for top, _ in imported_packages(bad)} == {"adapter", "his_connectors"}
