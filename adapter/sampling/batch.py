"""Offline batches: NDJSON lines a sampling point queued while its network was down.

Idempotent on each line's ``client_ref`` (a re-upload creates nothing twice; the store's unique
constraint settles a concurrent upload of the same line). Lines are bound in scan-time order
(``scanned_at``, then ``client_ref``), so the order of the lines in the file does not change the
result. Stored client_refs and the tubes named are read once per batch; lines then go in chunks of
``CHUNK``: verified with their platforms (the remote, slow step) ``VERIFY_CONCURRENCY`` at a time,
then identified and bound in that order, ``BIND_PER_UNIT`` lines per unit of work, while the next
chunk is being verified. A bad line is reported and the others still land.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapter.errors import DualcodeError, InvalidBatch, InvalidRequest
from adapter.json_codec import load_json
from adapter.sampling.service import SamplingService, Who, check_tube_accepts, require_sampling
from adapter.sampling.values import CLOCK_SKEW, RegistrationRequest, request_from_json, text_field
from adapter.security.caller import Caller
from adapter.storage.records import SamplingTube

VERIFY_CONCURRENCY = 8  # lines being verified with their platforms at once (see docs/sampling.md, Figures)
CHUNK = 1_000  # lines identified, then bound, before the next ones (in scan-time order)
BIND_PER_UNIT = 200  # lines bound per unit of work (one transaction, one commit)


@dataclass
class Line:
    number: int  # 1-based, as in the file
    client_ref: str | None = None
    request: RegistrationRequest | None = None
    answer: dict[str, Any] | None = None  # set once the line is settled

    def settle(self, status: str, **fields: Any) -> None:
        self.answer = {"line": self.number, "client_ref": self.client_ref, "status": status, **fields}

    def reject(self, error: DualcodeError) -> None:
        self.settle("rejected", error={"code": error.code, "message": error.message})


def parse_lines(
    raw: bytes, *, max_lines: int, default_point: str | None, service: SamplingService
) -> list[Line]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidBatch("the batch is not UTF-8") from None
    rows = [(n, row) for n, row in enumerate(text.splitlines(), start=1) if row.strip()]
    if not rows:
        raise InvalidBatch("the batch has no lines")
    if len(rows) > max_lines:
        raise InvalidBatch(f"the batch has more than {max_lines} lines; split it")
    lines: list[Line] = []
    for number, row in rows:
        line = Line(number)
        lines.append(line)
        try:
            body = load_json(row.encode())  # orjson, json where orjson would differ
            if not isinstance(body, dict):
                raise InvalidRequest("a line must be a JSON object")
            line.client_ref = text_field(body, "client_ref", required=True, limit=128)
            scanned_at = _scan_time(text_field(body, "scanned_at", required=True, limit=64) or "")
            line.request = request_from_json(
                body,
                pattern=service.tube_pattern,
                default_point=default_point,
                client_ref=line.client_ref,
                scanned_at=scanned_at,
            )
        except json.JSONDecodeError:
            line.reject(InvalidRequest("the line is not JSON"))
        except DualcodeError as error:
            line.reject(error)
    return lines


def _scan_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest("scanned_at must be an ISO 8601 time", expression=("scanned_at",)) from None
    if moment.tzinfo is None:
        raise InvalidRequest("scanned_at must carry its time zone", expression=("scanned_at",))
    return moment


async def run_batch(
    service: SamplingService, raw: bytes, caller: Caller, *, max_lines: int, skew_s: float, now: datetime
) -> dict[str, Any]:
    require_sampling(caller)
    lines = parse_lines(raw, max_lines=max_lines, default_point=caller.organization, service=service)
    pending = sorted(
        (line for line in lines if line.request is not None),
        key=lambda line: (_when(line), line.client_ref or ""),
    )
    first: dict[str, Line] = {}
    for line in pending:
        assert line.client_ref is not None  # parsed lines carry one
        first.setdefault(line.client_ref, line)  # the same scan twice in one file: answered like its first
    barcodes = list(dict.fromkeys(line.request.tube for line in first.values() if line.request is not None))
    tubes: dict[str, SamplingTube] = {}
    async with service.storage.unit_of_work(read_only=True) as uow:
        stored = await uow.sampling.by_client_refs(list(first))
        for barcode in barcodes:
            tube = await uow.sampling.get_tube(barcode)
            if tube is not None:
                tubes[barcode] = tube
    for client_ref, known in stored.items():
        first[client_ref].settle(
            "existing",
            registration=known.id,
            tube=known.tube,
            position=known.position,
            patient=f"Patient/{known.patient_id}",
            name_masked=known.name_masked,
        )
        await service.audit_writer.submit(  # uploaded before: a read
            service.auditor.build_for(
                caller,
                action="R",
                operation="sampling batch-existing",
                patient_id=known.patient_id,
                detail={"tube": known.tube},
            )
        )
    todo = [line for line in first.values() if line.answer is None]
    for line in todo:  # before verifying: a dynamic code is single-use
        assert line.request is not None
        tube = tubes.get(line.request.tube)
        if tube is not None:
            try:
                check_tube_accepts(tube, line.request, room=False)
            except DualcodeError as error:
                line.reject(error)
    todo = [line for line in todo if line.answer is None]
    chunks = [todo[start : start + CHUNK] for start in range(0, len(todo), CHUNK)]
    verifying = asyncio.create_task(_verify_all(service, chunks[0])) if chunks else None
    try:
        for number, chunk in enumerate(chunks):  # in scan-time order, chunk after chunk
            assert verifying is not None
            verified = await verifying
            verifying = None
            if number + 1 < len(chunks):  # the next chunk is verified while this one is bound
                verifying = asyncio.create_task(_verify_all(service, chunks[number + 1]))
            await _bind_chunk(service, chunk, verified, caller)
    finally:
        if verifying is not None:  # the request was given up: stop verifying
            verifying.cancel()
    limit = now + timedelta(seconds=skew_s)
    for line in lines:
        if line.answer is None and line.client_ref in first:  # a repeated line: nothing new
            line.answer = {**(first[line.client_ref].answer or {}), "line": line.number}
            if line.answer.get("status") == "created":
                line.answer.update(status="existing", created=False)
        if line.request is not None and line.request.scanned_at and line.request.scanned_at > limit:
            assert line.answer is not None
            line.answer.setdefault("flags", []).append({"code": CLOCK_SKEW})
    answers = [line.answer or {} for line in lines]
    counts = {s: sum(1 for a in answers if a.get("status") == s) for s in ("created", "existing", "rejected")}
    return {"round": service.current_round(), "received": len(lines), **counts, "lines": answers}


async def _bind_chunk(
    service: SamplingService, chunk: list[Line], verified: dict[int, Who], caller: Caller
) -> None:
    ready = [(line, who) for line in chunk if (who := verified.get(line.number)) is not None]
    for offset in range(0, len(ready), BIND_PER_UNIT):
        part = ready[offset : offset + BIND_PER_UNIT]
        items = [(line.request, who) for line, who in part if line.request is not None]
        for (line, _), outcome in zip(part, await service.bind_many(items, caller), strict=True):
            if isinstance(outcome, DualcodeError):
                line.reject(outcome)
                continue
            status = "created" if outcome.created else "existing"
            line.settle(status, **{k: v for k, v in outcome.to_json().items() if k != "client_ref"})


def _when(line: Line) -> datetime:
    assert line.request is not None and line.request.scanned_at is not None
    return line.request.scanned_at


async def _verify_all(service: SamplingService, lines: list[Line]) -> dict[int, Who]:
    gate = asyncio.Semaphore(VERIFY_CONCURRENCY)
    verified: dict[int, Who] = {}

    async def one(line: Line) -> None:
        assert line.request is not None
        async with gate:
            try:
                verified[line.number] = await service.verify(line.request)
            except DualcodeError as error:
                line.reject(error)

    async with asyncio.TaskGroup() as group:
        for line in lines:
            group.create_task(one(line))
    return verified
