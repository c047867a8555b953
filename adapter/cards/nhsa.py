"""Client of the NHSA medical insurance platform: the common envelope, 6101 e-voucher decode and
1101 person information (DOMAIN.md §6).

`verify` decodes a scanned e-voucher (6101, sent once: the code is single-use) and then reads the
person and their insurance with the ecToken (1101, a read: retried on outages). The ecToken is a
credential of this visit and is returned as a token, never as an identifier.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import httpx

from adapter.cards.answers import (
    china_today,
    field_text,
    holder_id_number,
    object_field,
    parse_amount,
    parse_date,
    required_text,
)
from adapter.cards.config import CardPlatformConfig
from adapter.cards.context import ScanContext
from adapter.cards.errors import CardProblem, card_error
from adapter.cards.holder import CardHolder, CardKind, Insurance, SourcedIdentifier, TransientToken
from adapter.cards.transport import PlatformHttp
from adapter.errors import DualcodeError
from mappings.cards import CHINA_STANDARD_TIME
from mappings.codes import IdentifierKey

SERVICE_PATH = "/fsi/api/rsfComIfsService/callService"
# mdtrt_cert_type: 01 e-voucher (ecToken), 02 ID card, 03 social security card (+ card_sn).
KIND_OF_CREDENTIAL: dict[str, CardKind] = {"01": "nhsa", "02": "idcard", "03": "ssc"}
# NHSA err_msg is free text; the sandbox leads it with a tag. Unknown tags are plain refusals.
_TAG = re.compile(r"\s*(E\d{4}-\d+)\s*:")
REFUSALS: dict[str, CardProblem] = {
    "E1101-1": CardProblem.UNKNOWN_PERSON,
    "E6101-1": CardProblem.EXPIRED,
    "E6101-2": CardProblem.REPLAYED,
    "E6101-3": CardProblem.UNKNOWN_CODE,
    "E6101-4": CardProblem.SUSPENDED,
}


class NhsaClient:
    def __init__(
        self,
        config: CardPlatformConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        today: Callable[[], date] = china_today,
        now: Callable[[], datetime] = lambda: datetime.now(CHINA_STANDARD_TIME),
    ) -> None:
        self._config = config
        self._today = today
        self._now = now
        self._sequence = itertools.count(1)
        self.http = PlatformHttp("nhsa", config.nhsa_base_url, config, transport=transport)

    async def verify(self, code: str, context: ScanContext) -> CardHolder:
        decoded = await self.call(
            "6101",
            {
                "ecQrCode": code.strip(),
                "businessType": context.nhsa_business_type,
                "orgId": context.organization,
                "operatorId": context.operator or self._config.operator,
            },
            context=context,
            idempotent=False,
        )
        ec_token = required_text(decoded, "ecToken", source="nhsa")
        holder = await self.person_info("01", ec_token, context=context)
        return replace(holder, kind="nhsa", tokens=(TransientToken("ec-token", ec_token, "nhsa"),))

    async def person_info(
        self,
        cert_type: str,
        cert_no: str,
        *,
        card_sn: str | None = None,
        context: ScanContext | None = None,
    ) -> CardHolder:
        """1101: the person and their insurance, by visit credential (mdtrt_cert_type 01 ecToken,
        02 ID number, 03 SSC card number with `card_sn`)."""
        output = await self.call(
            "1101",
            {
                "mdtrt_cert_type": cert_type,
                "mdtrt_cert_no": cert_no.strip(),
                "card_sn": card_sn or "",
                "begntime": "",
                "psn_cert_type": "",
                "certno": "",
                "psn_name": "",
            },
            context=context,
            idempotent=True,
        )
        return nhsa_holder(output, kind=KIND_OF_CREDENTIAL.get(cert_type, "nhsa"), today=self._today())

    async def call(
        self, infno: str, data: dict[str, Any], *, context: ScanContext | None, idempotent: bool
    ) -> dict[str, Any]:
        """One transaction in the NHSA envelope; the `output` of a successful answer."""
        answer = await self.http.post_json(
            SERVICE_PATH, self.envelope(infno, data, context=context), idempotent=idempotent
        )
        if field_text(answer, "infcode") != "0":
            raise nhsa_refusal(infno, field_text(answer, "err_msg"))
        return object_field(answer, "output", source="nhsa")

    def envelope(self, infno: str, data: dict[str, Any], *, context: ScanContext | None) -> dict[str, Any]:
        institution = (context.organization if context else "") or self._config.hospital_code
        now = self._now().astimezone(CHINA_STANDARD_TIME)
        return {
            "infno": infno,
            "msgid": message_id(institution, now, next(self._sequence)),
            "mdtrtarea_admvs": self._config.mdtrtarea_admvs,
            "insuplc_admdvs": "",
            "recer_sys_code": "dualcode",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": (context.operator if context else None) or self._config.operator,
            "opter_name": "",
            "inf_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": institution,
            "fixmedins_name": "",
            "sign_no": self._config.sign_no,
            "input": {"data": data},
        }

    async def aclose(self) -> None:
        await self.http.aclose()


def message_id(institution: str, now: datetime, sequence: int) -> str:
    """msgid: 12-character institution code + yyyyMMddHHmmss + 4-digit sequence = 30 characters.
    Codes other than 12 characters are cut or padded with 0 (the real rule for them is unknown)."""
    return f"{institution[:12].ljust(12, '0')}{now:%Y%m%d%H%M%S}{sequence % 10_000:04d}"


def nhsa_refusal(infno: str, err_msg: str) -> DualcodeError:
    # err_msg may carry personal data: only its tag travels on.
    match = _TAG.match(err_msg)
    tag = match.group(1) if match else None
    problem = REFUSALS.get(tag or "", CardProblem.REJECTED)
    return card_error(problem, f"the NHSA platform refused transaction {infno} ({tag or 'untagged'})")


def nhsa_holder(output: dict[str, Any], *, kind: CardKind, today: date) -> CardHolder:
    """The holder named by a 1101 answer: baseinfo plus every insuinfo entry."""
    base = object_field(output, "baseinfo", source="nhsa")
    cert_type = field_text(base, "psn_cert_type") or "01"
    cert_number = required_text(base, "certno", source="nhsa").upper()
    id_number = holder_id_number(cert_type, cert_number, source="nhsa", today=today)
    identifiers = [
        SourcedIdentifier(IdentifierKey.NHSA_PSN_NO, required_text(base, "psn_no", source="nhsa"), "nhsa")
    ]
    if id_number is not None:
        identifiers.append(SourcedIdentifier(IdentifierKey.ID_NUMBER, id_number.number, "nhsa"))
    entries = output.get("insuinfo")
    return CardHolder(
        kind=kind,
        cert_type=cert_type,
        cert_number=id_number.number if id_number else cert_number,
        id_number=id_number,
        name=required_text(base, "psn_name", source="nhsa"),
        sex=field_text(base, "gend") or (id_number.sex if id_number else "0"),
        birth_date=parse_date(field_text(base, "brdy")) or (id_number.birth_date if id_number else None),
        identifiers=tuple(identifiers),
        ethnicity=field_text(base, "naty") or None,
        insurance=tuple(_insurance(e) for e in entries if isinstance(e, dict))
        if isinstance(entries, list)
        else (),
    )


def _insurance(entry: dict[str, Any]) -> Insurance:
    return Insurance(
        insutype=field_text(entry, "insutype"),
        psn_type=field_text(entry, "psn_type"),
        status=field_text(entry, "psn_insu_stas"),
        insured_region=field_text(entry, "insuplc_admdvs"),
        balance=parse_amount(field_text(entry, "balc")),
        employer=field_text(entry, "emp_name"),
        start_date=parse_date(field_text(entry, "psn_insu_date")),
        pause_date=parse_date(field_text(entry, "paus_insu_date")),
    )
