"""Client of the electronic social security card platform: decode a scanned eSSC code (online only:
the code is opaque, DOMAIN.md §4). Path and envelope follow the dualcode sandbox's model of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from adapter.cards.answers import china_today, field_text, object_field, required_text, resident_id
from adapter.cards.config import CardPlatformConfig
from adapter.cards.context import ScanContext
from adapter.cards.errors import CardProblem, card_error
from adapter.cards.holder import RESIDENT_ID, CardHolder, SourcedIdentifier, TransientToken
from adapter.cards.transport import PlatformHttp
from adapter.errors import DualcodeError
from mappings.codes import IdentifierKey

DECODE_PATH = "/api/v1/decode"
OK = "0"
REFUSALS: dict[str, CardProblem] = {
    "E1001": CardProblem.EXPIRED,
    "E1002": CardProblem.REPLAYED,
    "E1003": CardProblem.UNKNOWN_CODE,
    "E1004": CardProblem.SUSPENDED,
    "E1005": CardProblem.NOT_PERMITTED,
    "E1006": CardProblem.UNKNOWN_PERSON,
}


class EsscClient:
    def __init__(
        self,
        config: CardPlatformConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        today: Callable[[], date] = china_today,
    ) -> None:
        self._config = config
        self._today = today
        self.http = PlatformHttp("essc", config.essc_base_url, config, transport=transport)

    async def verify(self, code: str, context: ScanContext) -> CardHolder:
        body = {
            "qrCode": code.strip(),
            "busiType": context.essc_business_type,
            "orgCode": context.organization,
            "termId": context.scanner_id or self._config.scanner_id,
        }
        answer = await self.http.post_json(DECODE_PATH, body, idempotent=False)
        if field_text(answer, "code") != OK:
            raise essc_refusal(field_text(answer, "code"))
        return essc_holder(
            object_field(answer, "data", source="essc"), code=code.strip(), today=self._today()
        )

    async def aclose(self) -> None:
        await self.http.aclose()


def essc_refusal(platform_code: str) -> DualcodeError:
    problem = REFUSALS.get(platform_code, CardProblem.REJECTED)
    return card_error(problem, f"the eSSC platform refused the code ({platform_code or 'no code'})")


def essc_holder(data: dict[str, Any], *, code: str, today: date) -> CardHolder:
    """The holder named by an eSSC decode answer (MOHRSS data elements AAB301, AAC002, ...)."""
    ssn = required_text(data, "AAC002", source="essc").upper()
    id_number = resident_id(ssn, source="essc", today=today)
    identifiers = [
        SourcedIdentifier(IdentifierKey.ID_NUMBER, id_number.number, "essc"),
        SourcedIdentifier(IdentifierKey.SSN, id_number.number, "essc"),
    ]
    for key, name in (
        (IdentifierKey.SSC_CARD_NUMBER, "AAZ500"),
        (IdentifierKey.SSC_IDENTIFICATION_CODE, "AAZ501"),
    ):
        if value := field_text(data, name).upper():
            identifiers.append(SourcedIdentifier(key, value, "essc"))
    return CardHolder(
        kind="essc",
        cert_type=RESIDENT_ID,
        cert_number=id_number.number,
        id_number=id_number,
        name=required_text(data, "AAC003", source="essc"),
        sex=id_number.sex,
        birth_date=id_number.birth_date,
        identifiers=tuple(identifiers),
        tokens=(TransientToken("essc-code", code, "essc"),),
        issuing_region=field_text(data, "AAB301") or None,
        essc_sign_level=field_text(data, "signLevel") or None,
    )
