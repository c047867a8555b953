"""`dualcode sandbox ...`: the argparse group plugs into a parent parser; issue and people call a
running sandbox (here one in a background thread) and print its JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import pytest

from sandbox import cli
from sandbox.config import SandboxConfig
from sandbox.server import BackgroundSandbox


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dualcode")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.register(commands)
    return parser.parse_args(argv)


def run(*argv: str) -> int:
    args = parse(*argv)
    result: int = args.run(args)
    return result


@pytest.fixture(scope="module")
def running() -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(SandboxConfig(port=0, seed=31, people=3)) as sandbox:
        yield sandbox


def test_bare_sandbox_serves_with_defaults() -> None:
    args = parse("sandbox")
    assert args.run is cli._run_serve and args.env_file is None
    assert (args.host, args.port, args.seed, args.people) == ("127.0.0.1", 8090, 2026, 100)


def test_serve_options_before_or_after_serve() -> None:
    assert parse("sandbox", "serve", "--port", "9001", "--seed", "4").port == 9001
    kept = parse("sandbox", "--port", "9002", "serve")
    assert kept.port == 9002 and kept.run is cli._run_serve


def test_issue_prints_the_same_json_as_the_endpoint(
    running: BackgroundSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("sandbox", "people", "--url", running.url) == 0
    person = json.loads(capsys.readouterr().out)["people"][0]
    assert (
        run("sandbox", "issue", "--kind", "ehc", "--id-number", person["id_number"], "--url", running.url)
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"code", "kind", "expires_at"} and printed["code"].startswith(person["ehc_id"])


def test_people_count_creates_and_errors_exit_non_zero(
    running: BackgroundSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("sandbox", "people", "--count", "2", "--url", running.url) == 0
    assert len(json.loads(capsys.readouterr().out)["people"]) == 2
    nobody = "110105194912310021"
    assert run("sandbox", "issue", "--kind", "essc", "--id-number", nobody, "--url", running.url) == 1
