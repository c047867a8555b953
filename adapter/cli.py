"""The `dualcode` command. Subcommands are added by their modules; see `dualcode --help`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dualcode", description="dualcode integration middleware")
    parser.add_subparsers(dest="command", required=True)
    args = parser.parse_args(argv)
    _ = args
    return 0


if __name__ == "__main__":
    sys.exit(main())
