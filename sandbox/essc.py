"""SIMULATOR of the electronic social security card platform's acceptor-side decode call.

The real payload and interface are not published (DOMAIN.md §4): this models a decode call that
takes the code and a business type and answers the MOHRSS data elements. Envelope (our model):
`{"code": "0", "msg": ..., "data": {AAB301, AAC002, AAC003, AAZ500, AAZ501, signLevel}}`;
refusals carry a non-zero `code` with HTTP 200, as such platforms do.
"""

from __future__ import annotations

from typing import Any

from sandbox.calls import PlatformCall, docs_router
from sandbox.people import CARD_ISSUING_REGION
from sandbox.refusals import Problem, Refusal
from sandbox.state import SandboxState, text

PREFIX = "/essc/api/v1"

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


async def decode(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """Decode a scanned eSSC QR code (simulated): one successful decode per code."""
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


CALLS = (PlatformCall("essc", f"{PREFIX}/decode", decode),)
router = docs_router(CALLS, prefix=PREFIX, tags=["eSSC simulator"])


def _refuse(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "msg": message, "data": None}
