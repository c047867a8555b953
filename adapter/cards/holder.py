"""What a verified card tells: the holder's identity facts, which identifier came from which
platform, insurance facts, and the short-lived tokens of this scan (kept apart: never identifiers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from mappings.codes import IdentifierKey
from mappings.identity_documents import IdNumber
from mappings.masking import mask_identifier

CardKind = Literal["essc", "ehc", "ssc", "idcard", "nhsa"]
CARD_KINDS: tuple[CardKind, ...] = ("essc", "ehc", "ssc", "idcard", "nhsa")
Source = Literal["essc", "ehc", "nhsa", "ssc-reader"]
TokenKind = Literal["ec-token", "essc-code", "ehc-code"]
RESIDENT_ID = "01"  # WS 364 CV02.01.101 (and NHSA psn_cert_type): resident ID card


@dataclass(frozen=True)
class SourcedIdentifier:
    """One identifier of the person and the platform that vouched for it."""

    key: IdentifierKey
    value: str = field(repr=False)
    source: Source

    @property
    def masked(self) -> str:
        return mask_identifier(self.value)


@dataclass(frozen=True)
class TransientToken:
    """A short-lived credential (an ecToken, the scanned code itself): belongs on the encounter,
    claim or audit record of this visit, never on Patient."""

    kind: TokenKind
    value: str = field(repr=False)
    source: Source


@dataclass(frozen=True)
class Insurance:
    """One NHSA insurance entry (1101 insuinfo)."""

    insutype: str  # 310 employees, 390 urban-rural residents, ...
    psn_type: str
    status: str  # psn_insu_stas
    insured_region: str  # insuplc_admdvs
    balance: float | None
    employer: str = field(default="", repr=False)
    start_date: date | None = None
    pause_date: date | None = None


@dataclass(frozen=True)
class CardHolder:
    """The person behind a verified card. The repr shows no name, number, phone or address."""

    kind: CardKind  # what was scanned
    cert_type: str  # WS 364 CV02.01.101
    cert_number: str = field(repr=False)
    id_number: IdNumber | None  # the parsed resident ID when cert_type is 01
    name: str = field(repr=False)
    sex: str  # GB/T 2261.1
    birth_date: date | None
    identifiers: tuple[SourcedIdentifier, ...]
    ethnicity: str | None = None  # GB 3304 numeric
    phone: str | None = field(default=None, repr=False)
    address: str | None = field(default=None, repr=False)
    tokens: tuple[TransientToken, ...] = ()
    insurance: tuple[Insurance, ...] = ()
    issuing_region: str | None = None  # eSSC / SSC AAB301
    essc_sign_level: str | None = None  # "1" identity, "2" identity + payment
    ehc_card_status: str | None = None  # "1" normal, "2" suspended

    def identifier(self, key: IdentifierKey) -> str | None:
        """The value of one identifier, if any platform gave it."""
        return next((i.value for i in self.identifiers if i.key == key), None)

    def sources_of(self, key: IdentifierKey) -> tuple[Source, ...]:
        return tuple(i.source for i in self.identifiers if i.key == key)
