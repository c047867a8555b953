"""Reading the data files shipped in this package (the only I/O `mappings` does)."""

from __future__ import annotations

import csv
import io
import json
from importlib.resources import files
from typing import Any


def read_csv(filename: str) -> tuple[dict[str, str], ...]:
    """Rows of a UTF-8 CSV file shipped beside this module, keyed by its header."""
    text = files(__package__).joinpath(filename).read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def read_json(filename: str) -> Any:
    """The parsed content of a UTF-8 JSON file shipped beside this module."""
    return json.loads(files(__package__).joinpath(filename).read_text(encoding="utf-8"))
