"""HTTP side of the SIMULATED HIS: FHIR and webhook receivers, the received list, the mode switch.

GET  /sandbox/his/received?hospital=H0001&limit=50      newest first: raw message and its type
POST /sandbox/his/mode {"hospital": "H0001" | "*", "mode": "ok|refuse|timeout|down"}
POST /sandbox/his/{hospital}/webhook                     JSON events (signature checked if configured)
POST /sandbox/his/{hospital}/fhir/Patient                conditional create (If-None-Exist)
PUT  /sandbox/his/{hospital}/fhir/Patient?identifier=    conditional update
POST /sandbox/his/{hospital}/fhir                        a transaction Bundle (tube orders, charges ...)
GET  /sandbox/his/{hospital}/fhir/metadata
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from sandbox.his.state import HisMode, HisState

router = APIRouter(prefix="/sandbox/his", tags=["simulated HIS"])
TIMEOUT_MODE_SLEEP_S = 30.0  # long enough for any caller's timeout; bounded so shutdown stays quick


class ModeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    hospital: str = "*"
    mode: HisMode


def his_state(request: Request) -> HisState:
    return cast(HisState, request.app.state.his)


@router.get("/received")
async def received(
    request: Request, hospital: str | None = None, limit: int = Query(default=100, ge=1, le=10_000)
) -> dict[str, Any]:
    state = his_state(request)
    items = state.received(hospital, limit)
    return {
        "simulator": True,
        "hospital": hospital,
        "accepted": state.accepted_keys(hospital) if hospital else None,
        "items": [item.view() for item in items],
    }


@router.post("/mode")
async def set_mode(body: ModeRequest, request: Request) -> dict[str, Any]:
    state = his_state(request)
    state.set_mode(body.hospital, body.mode)
    return {"modes": state.modes()}


@router.delete("/received")
async def clear(request: Request) -> dict[str, bool]:
    his_state(request).clear()
    return {"cleared": True}


@router.post("/{hospital}/webhook")
async def webhook(hospital: str, request: Request) -> Response:
    body = await request.body()
    key = request.headers.get("Idempotency-Key", "")
    secret: str | None = getattr(request.app.state, "his_webhook_secret", None)
    if secret is not None and not _signed(secret, request, body):
        return _answer(request, hospital, "webhook", "unsigned", key, body, 401, accepted=False)
    return await _by_mode(request, hospital, "webhook", "event", key, body, ok_status=202)


@router.get("/{hospital}/fhir/metadata")
async def metadata(hospital: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
    }


@router.post("/{hospital}/fhir")
async def fhir_transaction(hospital: str, request: Request) -> Response:
    """A transaction Bundle; its key: the first conditional create, else the last entry's URL."""
    body = await request.body()
    try:
        bundle = json.loads(body)
        entries = bundle["entry"] if bundle.get("type") == "transaction" else None
        requests = [entry["request"] for entry in entries or ()]
    except (ValueError, KeyError, TypeError, AttributeError):
        requests = []
    if not requests:
        return _answer(request, hospital, "fhir", "not a transaction", "", body, 400, accepted=False)
    key = next((r["ifNoneExist"] for r in requests if r.get("ifNoneExist")), str(requests[-1].get("url")))
    kinds = sorted({str(r.get("url", "")).split("?")[0] for r in requests})
    return await _by_mode(request, hospital, "fhir", f"Bundle {'+'.join(kinds)}", key, body, ok_status=200)


@router.post("/{hospital}/fhir/Patient")
async def fhir_create(hospital: str, request: Request) -> Response:
    key = request.headers.get("If-None-Exist", "")
    return await _by_mode(
        request, hospital, "fhir", "Patient create", key, await request.body(), ok_status=201
    )


@router.put("/{hospital}/fhir/Patient")
async def fhir_update(hospital: str, request: Request, identifier: str = "") -> Response:
    key = f"identifier={identifier}"
    return await _by_mode(
        request, hospital, "fhir", "Patient update", key, await request.body(), ok_status=200
    )


async def _by_mode(
    request: Request, hospital: str, channel: str, kind: str, key: str, body: bytes, *, ok_status: int
) -> Response:
    mode = his_state(request).mode(hospital)
    if mode == "timeout":
        _answer(request, hospital, channel, kind, key, body, 0, accepted=False)
        await asyncio.sleep(TIMEOUT_MODE_SLEEP_S)
        return Response(status_code=504)
    if mode == "down":
        return _answer(request, hospital, channel, kind, key, body, 503, accepted=False)
    if mode == "refuse":
        return _answer(request, hospital, channel, kind, key, body, 422, accepted=False)
    return _answer(request, hospital, channel, kind, key, body, ok_status, accepted=True)


def _answer(
    request: Request,
    hospital: str,
    channel: str,
    kind: str,
    key: str,
    body: bytes,
    status: int,
    *,
    accepted: bool,
) -> Response:
    his_state(request).record(
        hospital=hospital, channel=channel, message_type=kind, key=key,
        raw=body.decode("utf-8", errors="replace"), answered=str(status or "none"), accepted=accepted,
    )  # fmt: skip
    if accepted:
        return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=status)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "business-rule", "diagnostics": "simulated refusal"}],
    }
    return JSONResponse(outcome, status_code=status)


def _signed(secret: str, request: Request, body: bytes) -> bool:
    timestamp = request.headers.get("X-Dualcode-Timestamp", "")
    given = request.headers.get("X-Dualcode-Signature", "")
    expected = (
        "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, given)
