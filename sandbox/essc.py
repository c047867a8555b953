"""SIMULATOR of the electronic social security card platform's acceptor-side decode call.

The real payload and interface are not published (DOMAIN.md §4): this models a decode call that
takes the code and a business type and answers the MOHRSS data elements. Envelope (our model):
`{"code": "0", "msg": ..., "data": {AAB301, AAC002, AAC003, AAZ500, AAZ501, signLevel}}`;
refusals carry a non-zero `code` with HTTP 200, as such platforms do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sandbox.people import CARD_ISSUING_REGION
from sandbox.refusals import Problem, Refusal
from sandbox.state import json_object, sandbox_state, text

router = APIRouter(prefix="/essc/api/v1", tags=["eSSC simulator"])

BUSINESS_TYPES = {"01": "query", "02": "payment", "03": "other", "04": "cross-region medical care"}
ERROR_CODES: dict[Problem, str] = {
    "bad_request": "E1000",
    "expired": "E1001",
    "used": "E1002",
    "unknown_code": "E1003",
    "forged": "E1003",
    "suspended": "E1004",
    "unknown_person": "E1006",
}
PAYMENT_NOT_SIGNED = "E1005"


@router.post("/decode")
async def decode(request: Request) -> dict[str, Any]:
    """Decode a scanned eSSC QR code (simulated): one successful decode per code."""
    state = sandbox_state(request)
    await state.faults.apply("essc")
    body = await json_object(request)
    code, business_type = text(body, "qrCode"), text(body, "busiType")
    if not code or business_type not in BUSINESS_TYPES:
        return _refuse("E1000", "qrCode and busiType (01, 02, 03, 04) are required")
    try:
        person = state.codes.redeem(code, "essc").person
    except Refusal as refusal:
        return _refuse(ERROR_CODES[refusal.problem], refusal.message)
    if business_type == "02" and person.essc_sign_level != "2":
        return _refuse(PAYMENT_NOT_SIGNED, "this card is issued at level 1: payment is not enabled")
    return {
        "code": "0",
        "msg": "成功",
        "data": {
            "AAB301": CARD_ISSUING_REGION,
            "AAC002": person.id_number,
            "AAC003": person.name,
            "AAZ500": person.ssc_card_number,
            "AAZ501": person.ssc_identification_code,
            "signLevel": person.essc_sign_level,
        },
    }


def _refuse(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "msg": message, "data": None}
