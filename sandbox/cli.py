"""`dualcode sandbox`: serve the SIMULATOR, issue codes, create people.

Plugged into the `dualcode` command through the entry point group "dualcode.commands"
(`sandbox = "sandbox.cli:register"`), so adapter never imports the sandbox.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from sandbox.codes import CODE_KINDS
from sandbox.config import DEFAULT_HIS_MLLP_PORT, DEFAULT_HOST, DEFAULT_PORT, SandboxConfig

DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"


def register(subparsers: Any) -> None:
    """Add the `sandbox` command group to the `dualcode` parser's subcommands."""
    sandbox = subparsers.add_parser(
        "sandbox", help="SIMULATORS of the eSSC, EHC and NHSA platforms (synthetic people)"
    )
    # The dualcode CLI reads --env-file for every command; the sandbox takes no service settings.
    sandbox.add_argument("--env-file", help=argparse.SUPPRESS)
    _serve_options(sandbox, defaults=True)
    sandbox.set_defaults(run=_run_serve)
    actions = sandbox.add_subparsers(dest="sandbox_command")

    serve = actions.add_parser("serve", help="serve the simulators (the default)")
    _serve_options(serve, defaults=False)
    serve.set_defaults(run=_run_serve)

    issue = actions.add_parser("issue", help="issue a code for a person (calls the running sandbox)")
    issue.add_argument("--kind", required=True, choices=CODE_KINDS)
    issue.add_argument("--id-number", required=True)
    issue.add_argument("--ttl", type=float, help="code lifetime in seconds (default: the sandbox's)")
    issue.add_argument("--url", default=DEFAULT_URL)
    issue.set_defaults(run=_run_issue)

    people = actions.add_parser("people", help="create people (or list them with --count 0)")
    people.add_argument("--count", type=int, default=0)
    people.add_argument("--limit", type=int, default=20, help="how many to list when --count is 0")
    people.add_argument("--url", default=DEFAULT_URL)
    people.set_defaults(run=_run_people)

    export = actions.add_parser(
        "export", help="write the population as NDJSON for `dualcode mpi import` (no sandbox needed)"
    )
    export.add_argument("--count", type=int, required=True)
    export.add_argument("--out", type=Path, required=True, help="the NDJSON file to write")
    export.add_argument("--seed", type=int, default=SandboxConfig.seed)
    export.add_argument(
        "--today", type=date.fromisoformat, help="the day ages are counted on (default: today, UTC)"
    )
    export.set_defaults(run=_run_export)


def _serve_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # On `serve` the options default to SUPPRESS, so `sandbox --port 1 serve` keeps the 1.
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--host", default=default(DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=default(DEFAULT_PORT))
    parser.add_argument("--seed", type=int, default=default(SandboxConfig.seed))
    parser.add_argument("--people", type=int, default=default(SandboxConfig.people))
    parser.add_argument("--code-ttl", type=float, default=default(SandboxConfig.code_ttl_s))
    parser.add_argument("--data-file", type=Path, default=default(None), help="JSON file for the population")
    parser.add_argument(
        "--his-mllp-port",
        type=int,
        default=default(DEFAULT_HIS_MLLP_PORT),
        help="simulated HIS MLLP; -1 = off",
    )


def _run_serve(args: argparse.Namespace, _settings: object = None) -> int:
    from sandbox.server import serve

    if args.his_mllp_port >= 0:
        print(f"simulated HIS (SIMULATOR): MLLP on {args.host}:{args.his_mllp_port}", flush=True)
    serve(
        SandboxConfig(
            host=args.host,
            port=args.port,
            seed=args.seed,
            people=args.people,
            code_ttl_s=args.code_ttl,
            data_file=args.data_file,
            his_mllp_port=None if args.his_mllp_port < 0 else args.his_mllp_port,
            his_mllp_host=args.host,
        )
    )
    return 0


def _run_issue(args: argparse.Namespace, _settings: object = None) -> int:
    body: dict[str, Any] = {"kind": args.kind, "id_number": args.id_number}
    if args.ttl is not None:
        body["ttl_s"] = args.ttl
    return _print(httpx.post(f"{args.url}/sandbox/codes", json=body, timeout=10))


def _run_people(args: argparse.Namespace, _settings: object = None) -> int:
    if args.count > 0:
        answer = httpx.post(f"{args.url}/sandbox/people", json={"count": args.count}, timeout=60)
    else:
        answer = httpx.get(f"{args.url}/sandbox/people", params={"limit": args.limit}, timeout=10)
    return _print(answer)


def _run_export(args: argparse.Namespace, _settings: object = None) -> int:
    from sandbox.codes import utc_now
    from sandbox.export import ExportSpec, export_file

    spec = ExportSpec(count=args.count, seed=args.seed, today=args.today or utc_now().date())
    written = export_file(spec, args.out)
    print(
        json.dumps(
            {"people": written, "seed": spec.seed, "today": spec.today.isoformat(), "out": str(args.out)}
        )
    )
    return 0


def _print(answer: httpx.Response) -> int:
    try:
        shown: Any = answer.json()
    except ValueError:
        shown = {"status": answer.status_code, "body": answer.text}
    print(json.dumps(shown, ensure_ascii=False))
    return 0 if answer.is_success else 1
