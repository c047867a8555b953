"""The physical social security card, read at the counter: the reader line (iReadCardBas) is
checked and parsed offline (mappings.cards), no platform call. It offers the CardPlatform protocol
so a scan of any kind goes through the same door."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from adapter.cards.answers import china_today
from adapter.cards.context import ScanContext
from adapter.cards.errors import CardProblem, card_error
from adapter.cards.holder import RESIDENT_ID, CardHolder, SourcedIdentifier
from mappings import InvalidIdNumber, InvalidSscRead
from mappings.cards import SscCardRead, parse_ssc_reader_line
from mappings.codes import IdentifierKey


class SscReader:
    def __init__(self, *, today: Callable[[], date] = china_today) -> None:
        self._today = today

    async def verify(self, code: str, context: ScanContext) -> CardHolder:
        try:
            read = parse_ssc_reader_line(code, today=self._today())
        except (InvalidSscRead, InvalidIdNumber) as error:
            # A 3rd-generation read without PSAM/HSM (SscSsnMissing) lands here too: it names nobody.
            raise card_error(CardProblem.INVALID_CARD_READ, str(error)) from None
        return ssc_holder(read)

    async def aclose(self) -> None:
        return None


def ssc_holder(read: SscCardRead) -> CardHolder:
    def sourced(key: IdentifierKey, value: str) -> SourcedIdentifier:
        return SourcedIdentifier(key, value, "ssc-reader")

    return CardHolder(
        kind="ssc",
        cert_type=RESIDENT_ID,
        cert_number=read.ssn,
        id_number=read.holder,
        name=read.name,
        sex=read.holder.sex,
        birth_date=read.holder.birth_date,
        identifiers=(
            sourced(IdentifierKey.ID_NUMBER, read.ssn),
            sourced(IdentifierKey.SSN, read.ssn),
            sourced(IdentifierKey.SSC_CARD_NUMBER, read.card_number),
            sourced(IdentifierKey.SSC_IDENTIFICATION_CODE, read.identification_code),
        ),
        issuing_region=read.region_code,
    )
