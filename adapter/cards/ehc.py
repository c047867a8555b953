"""Client of an electronic health card management platform: verify QR, query, register
(DOMAIN.md §5; paths and envelope follow the dualcode sandbox's model of one province's interface).

A QR text that is not even well-formed is refused here, without a platform call; only the platform
holds the keys, so everything else (forged validity, tampered EHC ID, expiry, replay) is its verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import httpx

from adapter.cards.answers import (
    china_today,
    field_text,
    holder_id_number,
    object_field,
    parse_date,
    required_text,
)
from adapter.cards.config import CardPlatformConfig
from adapter.cards.context import ScanContext
from adapter.cards.errors import CardProblem, card_error
from adapter.cards.holder import RESIDENT_ID, CardHolder, SourcedIdentifier, TransientToken
from adapter.cards.transport import PlatformHttp
from adapter.errors import DualcodeError
from mappings import InvalidEhcCode
from mappings.cards import CHINA_STANDARD_TIME, parse_ehc_qr
from mappings.codes import IdentifierKey

VERIFY_PATH = "/api/v1/qrcode/verify"
QUERY_PATH = "/api/v1/card/query"
REGISTER_PATH = "/api/v1/card/register"
OK = "0000"
SUSPENDED_STATUS = "2"  # card status: 1 normal, 2 suspended
REFUSALS: dict[str, CardProblem] = {
    "1001": CardProblem.EXPIRED,
    "1002": CardProblem.REPLAYED,
    "1003": CardProblem.FORGED,
    "1004": CardProblem.UNKNOWN_PERSON,
    "1007": CardProblem.SUSPENDED,
}


class EhcClient:
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
        self._steps = dict(config.ehc_steps)
        self.http = PlatformHttp("ehc", config.ehc_base_url, config, transport=transport)

    async def verify(self, code: str, context: ScanContext) -> CardHolder:
        try:
            qr = parse_ehc_qr(code)
        except InvalidEhcCode as error:
            raise card_error(CardProblem.UNKNOWN_SHAPE, f"not an EHC QR code: {error}") from None
        body = {
            "qr_code": code.strip(),
            "time": self._now().astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d%H%M%S"),
            "scanner_id": context.scanner_id or self._config.scanner_id,
            "city_code": self._config.city_code,
            "hospital_code": context.organization or self._config.hospital_code,
            "channel": self._config.channel,
            "step": self._steps.get(context.step, context.step),
        }
        data = await self._call(VERIFY_PATH, body, idempotent=False)
        token = TransientToken("ehc-code", code.strip(), "ehc") if qr.dynamic else None
        holder = ehc_holder(data, today=self._today(), token=token)
        if holder.identifier(IdentifierKey.EHC_ID) != qr.ehc_id:
            # Never attach a scan to someone other than the card's owner, whatever the platform says.
            raise card_error(CardProblem.REJECTED, "the EHC platform answered for another card")
        return holder

    async def query(self, *, ehc_id: str | None = None, id_number: str | None = None) -> CardHolder:
        """The card of an EHC ID or of a resident ID number (a read: retried on outages)."""
        if ehc_id:
            body = {"ehc_id": ehc_id.strip().upper()}
        elif id_number:
            body = {"id_type": RESIDENT_ID, "id_no": id_number.strip().upper()}
        else:
            raise ValueError("give ehc_id or id_number")
        return ehc_holder(await self._call(QUERY_PATH, body, idempotent=True), today=self._today())

    async def register(
        self, *, id_number: str, name: str, phone: str | None = None, address: str | None = None
    ) -> CardHolder:
        """Register a card for a resident ID holder (sent once: a write is not retried)."""
        body = {"id_type": RESIDENT_ID, "id_no": id_number.strip().upper(), "name": name}
        body |= {k: v for k, v in (("phone", phone), ("address", address)) if v}
        return ehc_holder(await self._call(REGISTER_PATH, body, idempotent=False), today=self._today())

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, path: str, body: dict[str, str], *, idempotent: bool) -> dict[str, Any]:
        answer = await self.http.post_json(path, body, idempotent=idempotent)
        if field_text(answer, "code") != OK:
            raise ehc_refusal(field_text(answer, "code"))
        return object_field(answer, "data", source="ehc")


def ehc_refusal(platform_code: str) -> DualcodeError:
    problem = REFUSALS.get(platform_code, CardProblem.REJECTED)
    return card_error(problem, f"the EHC platform refused the code ({platform_code or 'no code'})")


def ehc_holder(data: dict[str, Any], *, today: date, token: TransientToken | None = None) -> CardHolder:
    """The holder named by an EHC platform answer; a suspended card (status 2) is refused."""
    status = field_text(data, "card_status") or None
    if status == SUSPENDED_STATUS:
        raise card_error(CardProblem.SUSPENDED, "the EHC platform reports the card as suspended")
    cert_type = required_text(data, "id_type", source="ehc")
    cert_number = required_text(data, "id_no", source="ehc").upper()
    id_number = holder_id_number(cert_type, cert_number, source="ehc", today=today)
    identifiers = [
        SourcedIdentifier(IdentifierKey.EHC_ID, required_text(data, "ehc_id", source="ehc").upper(), "ehc"),
    ]
    if mindex := field_text(data, "mindex").upper():
        identifiers.append(SourcedIdentifier(IdentifierKey.EHC_MASTER_INDEX, mindex, "ehc"))
    if id_number is not None:
        identifiers.append(SourcedIdentifier(IdentifierKey.ID_NUMBER, id_number.number, "ehc"))
    sex = field_text(data, "sex") or (id_number.sex if id_number else "0")
    birth = parse_date(field_text(data, "birthday")) or (id_number.birth_date if id_number else None)
    return CardHolder(
        kind="ehc",
        cert_type=cert_type,
        cert_number=id_number.number if id_number else cert_number,
        id_number=id_number,
        name=required_text(data, "name", source="ehc"),
        sex=sex,
        birth_date=birth,
        identifiers=tuple(identifiers),
        ethnicity=field_text(data, "nation") or None,
        phone=field_text(data, "phone") or None,
        address=field_text(data, "address") or None,
        tokens=(token,) if token else (),
        ehc_card_status=status,
    )
