"""`python -m sandbox [serve|issue|people] ...`: the same commands as `dualcode sandbox`, for a tree
where the entry point is not installed. Runs the SIMULATOR, never a real platform."""

from __future__ import annotations

import argparse
import sys

from sandbox.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="dualcode sandbox (SIMULATOR)")
    commands = parser.add_subparsers(dest="command")
    register(commands)
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
