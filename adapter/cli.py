"""The `dualcode` command: serve, migrate, clients. See `dualcode --help`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from importlib.metadata import entry_points

from adapter.outbox.cli import register as register_outbox_commands
from adapter.settings import Settings, load_settings


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", help="dotenv-style file with DUALCODE_* settings")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from adapter.app import create_app
    from adapter.security.logging import configure_logging
    from adapter.services import Services

    configure_logging(settings.log_level)
    if settings.http_workers > 1:
        from adapter.http.workers import WorkerSetupError, run_workers

        def workers_ready(worker_settings: Settings, pids: list[int]) -> None:
            mllp = (
                (worker_settings.mllp_host, worker_settings.mllp_port)
                if worker_settings.mllp_enabled
                else None
            )
            print(_banner(worker_settings, mllp, pids), flush=True)

        try:
            return run_workers(settings, workers_ready)
        except WorkerSetupError as error:
            print(f"dualcode serve: {error}", file=sys.stderr)
            return 2

    def banner(services: Services) -> None:
        print(_banner(settings, services.mllp.address if services.mllp is not None else None), flush=True)

    app = create_app(settings, on_ready=banner)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    uvicorn.Server(config).run()
    return 0


def _banner(settings: Settings, mllp: tuple[str, int] | None, worker_pids: list[int] | None = None) -> str:
    http = f"http://{settings.http_host}:{settings.http_port}"
    lines = [
        "dualcode is listening:",
        f"  HTTP         {http}   (FHIR base {http}/fhir, metrics {http}/metrics)",
    ]
    if mllp is not None:
        lines.append(f"  MLLP         {mllp[0]}:{mllp[1]}")
    if worker_pids:
        lines.append(f"  workers      {len(worker_pids)} processes (pids {' '.join(map(str, worker_pids))})")
    lines += [
        f"  database     {_safe_url(settings.database_url)}",
        f"  cache        {'Redis' if settings.redis_url else 'in-process'}",
        "Get a token:",
        "  .venv/bin/dualcode clients add demo --roles admin --json",
        f"  curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials {http}/oauth/token",
    ]
    return "\n".join(lines)


def _safe_url(url: str) -> str:
    # Never print a password that may sit in the URL.
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from adapter.mpi.import_pipeline import merge_pending_tokens_of
    from adapter.storage import migrate

    asyncio.run(migrate(settings.database_url))
    if asyncio.run(merge_pending_tokens_of(settings)):
        print("merged the search tokens of an interrupted import: its people are searchable")
    print(f"migrated {_safe_url(settings.database_url)}")
    return 0


def _clients(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_clients_async(args, settings))


async def _clients_async(args: argparse.Namespace, settings: Settings) -> int:
    from adapter.security.clients import ClientRegistry
    from adapter.storage import MEMORY_URL, migrate, open_storage
    from adapter.storage.keys import load_vault

    if settings.auto_migrate and settings.database_url != MEMORY_URL:
        await migrate(settings.database_url)
    storage = open_storage(settings, load_vault(settings))
    registry = ClientRegistry()
    try:
        async with storage.unit_of_work() as uow:
            if args.clients_command == "add":
                roles = [r.strip() for r in args.roles.split(",") if r.strip()]
                client_id, secret = await registry.add(uow, args.name, roles, organization=args.organization)
                result = {"client_id": client_id, "client_secret": secret, "roles": roles}
                if args.json:
                    print(json.dumps(result))
                else:
                    print(f"client_id     {client_id}\nclient_secret {secret}  (shown once; stored hashed)")
            else:
                rows = [
                    {"client_id": c.client_id, "name": c.name, "roles": list(c.roles), "active": c.active}
                    for c in await uow.clients.list()
                ]
                print(json.dumps(rows, ensure_ascii=False, indent=None if args.json else 2))
    finally:
        await storage.close()
    return 0


def _messages(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_messages_async(args, settings))


async def _messages_async(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime

    from adapter.hl7v2.replay import replay
    from adapter.hl7v2.retention import RetentionPolicy, prune
    from adapter.hl7v2.service import build_gateway
    from adapter.security.audit import Auditor
    from adapter.storage import MEMORY_URL, migrate, open_storage
    from adapter.storage.keys import load_vault

    if settings.auto_migrate and settings.database_url != MEMORY_URL:
        await migrate(settings.database_url)
    storage = open_storage(settings, load_vault(settings))
    try:
        if args.messages_command == "prune":
            policy = RetentionPolicy(
                days=args.days if args.days is not None else settings.hl7_retention_days,
                max_bytes=args.max_bytes if args.max_bytes is not None else settings.hl7_retention_max_bytes,
            )
            if not policy.active:
                print(
                    "no retention policy: set --days/--max-bytes or DUALCODE_HL7_RETENTION_*", file=sys.stderr
                )
                return 2
            print(json.dumps({"pruned": await prune(storage, policy)}))
            return 0
        since = datetime.fromisoformat(args.since)
        until = datetime.fromisoformat(args.until) if args.until else None
        if since.tzinfo is None or (until is not None and until.tzinfo is None):
            print("--since/--until need a timezone, e.g. 2026-11-29T08:00:00+08:00", file=sys.stderr)
            return 2
        statuses = tuple(s.strip() for s in args.status.split(",") if s.strip())
        gateway = build_gateway(settings, storage, Auditor())
        report = await replay(gateway, storage, since=since, until=until, statuses=statuses, limit=args.limit)
        print(json.dumps({"replayed": report.replayed, "outcomes": report.outcomes}))
        return 0
    finally:
        await storage.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dualcode", description="dualcode integration middleware")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API and the MLLP listener")
    _add_common(serve)
    serve.set_defaults(run=_serve)

    mig = commands.add_parser("migrate", help="apply database migrations")
    _add_common(mig)
    mig.set_defaults(run=_migrate)

    clients = commands.add_parser("clients", help="API clients (OAuth client credentials)")
    _add_common(clients)
    client_commands = clients.add_subparsers(dest="clients_command", required=True)
    add = client_commands.add_parser("add", help="register a client; prints its secret once")
    add.add_argument("name")
    add.add_argument("--roles", required=True, help="comma-separated: his, pharmacy, sampling, admin")
    add.add_argument("--organization", help="the institution code this client acts for")
    add.add_argument("--json", action="store_true")
    lst = client_commands.add_parser("list", help="list clients (never secrets)")
    lst.add_argument("--json", action="store_true")
    clients.set_defaults(run=_clients)

    messages = commands.add_parser("messages", help="stored HL7 v2 messages: prune, replay")
    message_commands = messages.add_subparsers(dest="messages_command", required=True)
    prune = message_commands.add_parser("prune", help="delete processed messages past the retention policy")
    _add_common(prune)
    prune.add_argument("--days", type=int, help="override DUALCODE_HL7_RETENTION_DAYS")
    prune.add_argument("--max-bytes", type=int, help="override DUALCODE_HL7_RETENTION_MAX_BYTES")
    rerun = message_commands.add_parser(
        "replay", help="run stored messages through the pipeline again (no ACKs)"
    )
    _add_common(rerun)
    rerun.add_argument("--since", required=True, help="ISO time with timezone: messages received from then")
    rerun.add_argument("--until", help="ISO time with timezone: and before then")
    rerun.add_argument(
        "--status",
        default="received,error,rejected",
        help="comma-separated statuses to replay (default: unfinished)",
    )
    rerun.add_argument("--limit", type=int, default=10_000)
    messages.set_defaults(run=_messages)

    register_outbox_commands(commands)  # connectors check|list, outbox retry|list|run

    from adapter.mpi.import_file import add_parser as add_mpi_parser

    _add_common(add_mpi_parser(commands))  # `dualcode mpi import FILE.ndjson [--batch N]`

    # Commands of other packages (the sandbox simulators) plug in by entry point, so adapter never
    # imports them (tests/test_architecture.py).
    for plugin in entry_points(group="dualcode.commands"):
        plugin.load()(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(getattr(args, "env_file", None))
    result: int = args.run(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
