"""SIMULATOR of the NHSA medical insurance platform: the common envelope, 1101 person information
and 6101 e-voucher decode (DOMAIN.md §6).

In: `infno, msgid (30 chars), mdtrtarea_admvs, insuplc_admdvs, fixmedins_code, opter, inf_time,
sign_no, input`; out: `infcode` (0 / -1), `err_msg`, `output`. NHSA refusals are free text; this
simulator starts `err_msg` with a tag (`E6101-1: ...`) so tests and the client can tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sandbox.calls import PlatformCall, docs_router
from sandbox.people import RESIDENT_ID_CERT_TYPE, Person
from sandbox.refusals import Problem, Refusal
from sandbox.state import SandboxState, text

PREFIX = "/nhsa/fsi/api/rsfComIfsService"

ERROR_TAGS: dict[Problem, str] = {
    "bad_request": "E0000-1",
    "unknown_person": "E1101-1",
    "expired": "E6101-1",
    "used": "E6101-2",
    "unknown_code": "E6101-3",
    "forged": "E6101-3",
    "suspended": "E6101-4",
}
_ENVELOPE_FIELDS = ("infno", "msgid", "mdtrtarea_admvs", "fixmedins_code", "opter", "inf_time")
_MSGID = re.compile(r"[0-9A-Za-z]{12}[0-9]{14}[0-9]{4}")
_SCAN_BUSINESS_TYPES = frozenset({"01101", "01301", "01302", "02121"})

Transaction = Callable[[SandboxState, dict[str, Any]], Awaitable[dict[str, Any]]]


async def call_service(state: SandboxState, envelope: dict[str, Any]) -> dict[str, Any]:
    """One NHSA transaction (simulated): the envelope's `infno` picks it."""
    missing = [name for name in _ENVELOPE_FIELDS if not text(envelope, name)]
    try:
        if missing:
            raise Refusal("bad_request", f"envelope lacks {', '.join(missing)}")
        if not _MSGID.fullmatch(text(envelope, "msgid")):
            raise Refusal("bad_request", "msgid is 30 characters: institution code, yyyyMMddHHmmss, seq")
        transaction = TRANSACTIONS.get(text(envelope, "infno"))
        if transaction is None:
            raise Refusal("bad_request", f"this simulator does not offer infno {text(envelope, 'infno')}")
        data = envelope.get("input", {}).get("data") if isinstance(envelope.get("input"), dict) else None
        output = await transaction(state, data if isinstance(data, dict) else {})
    except Refusal as refusal:
        return _answer(envelope, infcode=-1, err_msg=f"{ERROR_TAGS[refusal.problem]}: {refusal.message}")
    return _answer(envelope, infcode=0, output=output)


async def person_information(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    """1101: by visit credential (mdtrt_cert_type 01 ecToken, 02 ID number, 03 SSC + card_sn)."""
    cert_type, number = text(data, "mdtrt_cert_type"), text(data, "mdtrt_cert_no")
    person: Person | None
    if cert_type == "01":
        person = state.codes.person_for_token(number)
    elif cert_type == "02":
        person = state.population.by_id_number(number)
    elif cert_type == "03":
        person = state.population.by_card_number(number)
        if person is not None and text(data, "card_sn").upper() != person.ssc_identification_code:
            raise Refusal("bad_request", "card_sn does not match the card")
    else:
        raise Refusal("bad_request", "mdtrt_cert_type is 01, 02 or 03")
    if person is None:
        raise Refusal("unknown_person", "no insured person for this credential")
    return {
        "baseinfo": {
            "psn_no": person.nhsa_psn_no,
            "psn_cert_type": RESIDENT_ID_CERT_TYPE,
            "certno": person.id_number,
            "psn_name": person.name,
            "gend": person.sex,
            "naty": person.ethnicity,
            "brdy": person.birth_date.isoformat(),
            "age": _age(person, state.population.today),
        },
        "insuinfo": [
            {
                "insutype": person.insutype,
                "psn_type": person.psn_type,
                "psn_insu_stas": "1",  # 1 normal contribution
                "balc": person.balance,
                "insuplc_admdvs": person.insuplc_admdvs,
                "emp_name": person.emp_name,
                "psn_insu_date": f"{person.ssc_issue_date.isoformat()}",
                "paus_insu_date": None,
            }
        ],
        "idetinfo": [],
    }


async def decode_e_voucher(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    """6101: decode a scanned e-voucher QR code once; answers a fresh ecToken for this visit."""
    code, business_type = text(data, "ecQrCode"), text(data, "businessType")
    if not code or business_type not in _SCAN_BUSINESS_TYPES:
        raise Refusal("bad_request", "ecQrCode and businessType (01101, 01301, 01302, 02121) are required")
    person = state.codes.redeem(code, "nhsa").person
    return {
        "ecToken": state.codes.issue_token(person),
        "idNo": person.id_number,
        "idType": RESIDENT_ID_CERT_TYPE,
        "userName": person.name,
        "insuOrg": person.insuplc_admdvs,
        "gender": person.sex,
        "birthday": person.birth_date.isoformat(),
    }


TRANSACTIONS: dict[str, Transaction] = {"1101": person_information, "6101": decode_e_voucher}
CALLS = (PlatformCall("nhsa", f"{PREFIX}/callService", call_service),)
router = docs_router(CALLS, prefix=PREFIX, tags=["NHSA simulator"])


def _answer(
    envelope: dict[str, Any],
    *,
    infcode: int,
    output: dict[str, Any] | None = None,
    err_msg: str | None = None,
) -> dict[str, Any]:
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    return {
        "infcode": infcode,
        "inf_refmsgid": f"SIM{now}{text(envelope, 'msgid')[-4:]}",
        "refmsg_time": text(envelope, "inf_time"),
        "respond_time": now,
        "err_msg": err_msg,
        "warn_msg": None,
        "output": output if output is not None else {},
    }


def _age(person: Person, today: date) -> int:
    born = person.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
