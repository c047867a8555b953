"""`make bench`: run every benchmark module in bench/ that has a main(), in name order; print figures."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

SUPPORT = {"__main__", "stats", "load", "hello_app", "wrk"}


def main(selected: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in SUPPORT
    )
    for name in selected or names:
        module = importlib.import_module(f"bench.{name}")
        if hasattr(module, "main"):
            module.main()
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
