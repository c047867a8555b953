"""`dualcode connectors check|list` and `dualcode outbox retry|list|run`.

Registered by adapter.cli (one line), so the command module stays beside what it drives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from adapter.settings import Settings
from his_connectors import ConfigError, DestinationsConfig, load_destinations, open_connector


def register(commands: Any) -> None:
    connectors = commands.add_parser("connectors", help="hospital destinations: validate, try, list")
    connectors.add_argument("--env-file", help="dotenv-style file with DUALCODE_* settings")
    actions = connectors.add_subparsers(dest="connectors_command", required=True)
    check = actions.add_parser("check", help="validate the destinations file and try each endpoint")
    check.add_argument("--file", type=Path, help="default: DUALCODE_CONNECTORS_FILE")
    check.add_argument("--no-connect", action="store_true", help="validate only")
    listing = actions.add_parser("list", help="each hospital code with its destinations")
    listing.add_argument("--file", type=Path, help="default: DUALCODE_CONNECTORS_FILE")
    listing.add_argument("--json", action="store_true")
    connectors.set_defaults(run=_connectors)

    outbox = commands.add_parser("outbox", help="the outbox: dead letters, listing, a dispatcher process")
    outbox.add_argument("--env-file", help="dotenv-style file with DUALCODE_* settings")
    verbs = outbox.add_subparsers(dest="outbox_command", required=True)
    retry = verbs.add_parser("retry", help="send dead letters again")
    retry.add_argument("--dead", action="store_true", required=True, help="every dead event (or --id)")
    retry.add_argument("--id", action="append", default=[], help="only these event ids")
    retry.add_argument("--destination", help="only this destination code, e.g. H0001:adt")
    show = verbs.add_parser("list", help="events by status (no payloads)")
    show.add_argument("--status", default="dead")
    show.add_argument("--limit", type=int, default=100)
    verbs.add_parser("run", help="run a dispatcher only (no HTTP, no MLLP listener) until SIGTERM")
    outbox.set_defaults(run=_outbox)


def _destinations(args: argparse.Namespace, settings: Settings) -> DestinationsConfig:
    path = args.file or settings.connectors_file
    if path is None:
        raise ConfigError("no destinations file: pass --file or set DUALCODE_CONNECTORS_FILE")
    return load_destinations(path)


def _connectors(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = _destinations(args, settings)
    except ConfigError as error:
        print(json.dumps({"valid": False, "error": str(error)}), file=sys.stderr)
        return 2
    if args.connectors_command == "list":
        rows = [
            {"hospital": h.code, "name": h.name, "destinations": [d.public() for d in h.destinations]}
            for h in config.hospitals.values()
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=None if args.json else 2))
        return 0
    if args.no_connect:
        print(json.dumps({"valid": True, "destinations": [d.code for d in config.destinations]}))
        return 0
    results = asyncio.run(_try_each(config))
    print(json.dumps({"valid": True, "destinations": results}))
    return 0 if all(r["ok"] for r in results) else 1


async def _try_each(config: DestinationsConfig) -> list[dict[str, Any]]:
    async def one(destination: Any) -> dict[str, Any]:
        connector = open_connector(destination)
        try:
            health = await asyncio.wait_for(connector.health(), destination.timeout_s)
            return {"destination": destination.code, "ok": health.ok, "detail": health.detail}
        except TimeoutError:
            return {"destination": destination.code, "ok": False, "detail": "timed out"}
        finally:
            await connector.close()

    return list(await asyncio.gather(*(one(d) for d in config.destinations)))


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_outbox_async(args, settings))


async def _outbox_async(args: argparse.Namespace, settings: Settings) -> int:
    from adapter.outbox.api import event_view
    from adapter.storage import MEMORY_URL, migrate, open_storage
    from adapter.storage.keys import load_vault

    if settings.auto_migrate and settings.database_url != MEMORY_URL:
        await migrate(settings.database_url)
    storage = open_storage(settings, load_vault(settings))
    try:
        if args.outbox_command == "run":
            return await _run_dispatcher(settings, storage)
        async with storage.unit_of_work() as uow:
            if args.outbox_command == "list":
                events = await uow.outbox.list(status=args.status, limit=args.limit)
                print(json.dumps([event_view(e) for e in events], ensure_ascii=False))
                return 0
            dead = await uow.outbox.list(status="dead", destination=args.destination, limit=1_000_000)
            chosen = [e for e in dead if not args.id or e.id in args.id]
            for event in chosen:
                await uow.outbox.retry(event.id)
        print(json.dumps({"retried": len(chosen)}))
        return 0
    finally:
        await storage.close()


async def _run_dispatcher(settings: Settings, storage: Any) -> int:
    from adapter.outbox.service import build_dispatcher, build_wakeup

    dispatcher = build_dispatcher(settings, storage)
    if dispatcher is None:
        print(
            "no dispatcher: set DUALCODE_CONNECTORS_FILE (and DUALCODE_OUTBOX_DISPATCHER_ENABLED)",
            file=sys.stderr,
        )
        return 2
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await dispatcher.start()
    wakeup = build_wakeup(settings, storage, dispatcher)  # woken over Redis when it is configured
    await wakeup.start()
    print(
        json.dumps(
            {"dispatcher": "running", "destinations": [d.code for d in dispatcher.config.destinations]}
        )
    )
    sys.stdout.flush()
    try:
        await stopping.wait()
    finally:
        await wakeup.stop()
        await dispatcher.stop()
    return 0
