"""SIMULATOR of an electronic health card management platform: verify QR, query, register.

Modelled on one province's interface family (DOMAIN.md §5); paths and the envelope are our model:
`{"code": "0000", "msg": ..., "data": {...}}`, refusals with another `code` and HTTP 200.
"""

from __future__ import annotations

from typing import Any

from mappings import InvalidIdNumber
from mappings.identity_documents import parse_id_number
from sandbox.calls import PlatformCall, docs_router
from sandbox.people import RESIDENT_ID_CERT_TYPE, Person
from sandbox.refusals import Problem, Refusal
from sandbox.state import SandboxState, text, ymd

PREFIX = "/ehc/api/v1"

OK = "0000"
ERROR_CODES: dict[Problem, str] = {
    "expired": "1001",
    "used": "1002",
    "forged": "1003",
    "unknown_code": "1003",
    "unknown_person": "1004",
    "bad_request": "1005",
    "suspended": "1007",
}
_VERIFY_FIELDS = ("qr_code", "time", "scanner_id", "city_code", "hospital_code", "channel", "step")


async def verify_qr(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """Verify a scanned EHC QR code (simulated). A suspended card answers card_status 2."""
    missing = [name for name in _VERIFY_FIELDS if not text(body, name)]
    if missing:
        return _refuse("bad_request", f"missing: {', '.join(missing)}")
    try:
        verified = state.codes.redeem_ehc(text(body, "qr_code"))
    except Refusal as refusal:
        return _refuse(refusal.problem, refusal.message)
    return _ok({**_card(state, verified.person), "surplusNum": verified.surplus})


async def query_card(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """Look a card up by EHC ID, or by certificate type and number (simulated)."""
    person: Person | None
    if text(body, "ehc_id"):
        person = state.population.by_ehc_id(text(body, "ehc_id"))
    elif text(body, "id_type") == RESIDENT_ID_CERT_TYPE and text(body, "id_no"):
        person = state.population.by_id_number(text(body, "id_no"))
    else:
        return _refuse("bad_request", "give ehc_id, or id_type 01 and id_no")
    if person is None:
        return _refuse("unknown_person", "no card for this person")
    return _ok(_card(state, person))


async def register_card(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """Register a card for a resident ID holder (simulated); an existing card is returned as is."""
    if text(body, "id_type") != RESIDENT_ID_CERT_TYPE or not text(body, "name"):
        return _refuse("bad_request", "this simulator registers id_type 01 with id_no and name")
    try:
        parsed = parse_id_number(text(body, "id_no"), today=state.population.today)
    except InvalidIdNumber as error:
        return _refuse("bad_request", str(error))
    person = state.population.by_id_number(parsed.number) or state.population.register(
        id_number=parsed.number,
        name=text(body, "name"),
        sex=parsed.sex,
        birth_date=parsed.birth_date,
        phone=text(body, "phone") or None,
        address=text(body, "address") or None,
    )
    return _ok(_card(state, person))


CALLS = (
    PlatformCall("ehc", f"{PREFIX}/qrcode/verify", verify_qr),
    PlatformCall("ehc", f"{PREFIX}/card/query", query_card),
    PlatformCall("ehc", f"{PREFIX}/card/register", register_card),
)
router = docs_router(CALLS, prefix=PREFIX, tags=["EHC simulator"])


def _card(state: SandboxState, person: Person) -> dict[str, Any]:
    return {
        "name": person.name,
        "mindex": person.ehc_master_index,
        "ehc_id": person.ehc_id,
        "id_type": RESIDENT_ID_CERT_TYPE,
        "id_no": person.id_number,
        "nation": person.ethnicity,
        "sex": person.sex,
        "birthday": ymd(person.birth_date),
        "address": person.address,
        "phone": person.phone,
        "card_attr": "2",  # 1 temporary, 2 formal
        "card_status": "2" if state.population.is_suspended(person) else "1",
    }


def _ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": OK, "msg": "成功", "data": data}


def _refuse(problem: Problem, message: str) -> dict[str, Any]:
    return {"code": ERROR_CODES[problem], "msg": message, "data": None}
