"""HTTP routes of the sampling point API (JSON; errors are OperationOutcomes like everywhere)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from adapter.errors import ServiceUnavailable, UnsupportedMediaType
from adapter.http.auth import authenticate
from adapter.http.negotiation import read_json
from adapter.sampling import results
from adapter.sampling.batch import run_batch
from adapter.sampling.lab import result_from_oru, result_from_report
from adapter.sampling.service import SamplingService
from adapter.sampling.values import check_tube, request_from_json, tube_json
from adapter.security.caller import Caller
from adapter.services import services_of

router = APIRouter(prefix="/sampling", tags=["sampling"])
AuthedCaller = Annotated[Caller, Depends(authenticate)]
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain"})
HL7_TYPES = frozenset({"x-application/hl7-v2+er7", "application/hl7-v2", "text/plain"})


def json_response(status: int, body: dict[str, Any]) -> Response:
    # orjson: UTF-8, compact, as json.dumps(ensure_ascii=False) wrote it, in a tenth of the time
    # (a 100,000-line batch answer is ~20 MB of JSON).
    content = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    return Response(content, status_code=status, media_type="application/json; charset=utf-8")


def sampling_of(request: Request) -> SamplingService:
    service = services_of(request).sampling
    if service is None:
        raise ServiceUnavailable("sampling is not set up in this process")
    return service


@router.post("/registrations")
async def register(request: Request) -> Response:
    # authenticate called here, not as a FastAPI dependency: the same check, without FastAPI's
    # dependency solving (~6 % of the service's CPU per registration, docs/sampling.md, Figures).
    caller = await authenticate(request)
    service = sampling_of(request)
    body = await read_json(request)
    wanted = request_from_json(body, pattern=service.tube_pattern, default_point=caller.organization)
    registered = await service.register(wanted, caller)
    return json_response(201 if registered.created else 200, registered.to_json())


@router.post("/registrations:batch")
async def register_batch(request: Request, caller: AuthedCaller) -> Response:
    service = sampling_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in NDJSON_TYPES:
        raise UnsupportedMediaType("send the batch as application/x-ndjson, one JSON object per line")
    settings = services_of(request).settings
    answer = await run_batch(
        service,
        await request.body(),
        caller,
        max_lines=settings.sampling_max_batch_lines,
        skew_s=settings.sampling_clock_skew_s,
        now=datetime.now(UTC),
    )
    return json_response(200, answer)


@router.post("/tubes/{tube}/close")
async def close_tube(request: Request, tube: str, caller: AuthedCaller) -> Response:
    service = sampling_of(request)
    closed = await service.close(check_tube(tube, service.tube_pattern), caller)
    return json_response(200, tube_json(closed))


@router.get("/tubes/{tube}")
async def read_tube(request: Request, tube: str, caller: AuthedCaller) -> Response:
    service = sampling_of(request)
    found, members = await service.view(check_tube(tube, service.tube_pattern), caller)
    return json_response(200, tube_json(found, members))


@router.get("/tubes")
async def list_tubes(
    request: Request,
    caller: AuthedCaller,
    status: str | None = None,
    since: str | None = None,
    round: str | None = None,
    limit: Annotated[int, Query(ge=1, le=results.MAX_TUBES)] = 100,
) -> Response:
    tubes = await results.list_tubes(
        sampling_of(request), caller, status=status, since=since, round_name=round, limit=limit
    )
    return json_response(200, {"tubes": tubes})


@router.post("/results")
async def record_result(request: Request, caller: AuthedCaller) -> Response:
    """A lab result for a tube: a FHIR DiagnosticReport (JSON) or an HL7 v2 ORU^R01 (ER7 text)."""
    service = sampling_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in HL7_TYPES:
        tube, result = result_from_oru((await request.body()).decode("utf-8", "replace"))
    else:
        tube, result = result_from_report(await read_json(request))
    recorded = await results.record_result(service, check_tube(tube, service.tube_pattern), result, caller)
    return json_response(200, tube_json(recorded))


@router.get("/recalls")
async def recalls(request: Request, caller: AuthedCaller, round: str | None = None) -> Response:
    service = sampling_of(request)
    return json_response(200, await results.recalls(service, round or service.current_round(), caller))
