"""Codes the SIMULATOR issues and checks: eSSC and NHSA QR codes (opaque tokens), EHC QR texts
(static and dynamic, per the EHC specification) and SSC reader lines.

Dynamic codes expire after a TTL and each can be verified once; an EHC static code can be verified
up to `static_limit` times (what `surplusNum` counts down).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from mappings import InvalidEhcCode
from mappings.cards import decrypt_validity, encrypt_validity, parse_ehc_qr, validity_to_utc
from sandbox.people import ATR, CARD_ISSUING_REGION, Person
from sandbox.population import Population
from sandbox.refusals import Refusal

CodeKind = Literal["essc", "ehc", "ehc-static", "nhsa", "ssc-reader"]
CODE_KINDS: tuple[CodeKind, ...] = ("essc", "ehc", "ehc-static", "nhsa", "ssc-reader")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IssuedCode:
    code: str = field(repr=False)
    kind: CodeKind
    expires_at: datetime | None  # None for static codes and reader lines


@dataclass
class _Ticket:
    """What stands behind an issued code (mutable: counts its verifications)."""

    kind: CodeKind
    id_number: str
    expires_at: datetime | None
    limit: int
    uses: int = 0


@dataclass(frozen=True)
class Verified:
    person: Person
    surplus: int  # verifications left after this one


class CodeBook:
    def __init__(
        self,
        population: Population,
        *,
        protection_key: bytes,
        ttl_s: float,
        static_limit: int = 1000,
        clock: Clock = utc_now,
    ) -> None:
        self._population = population
        self._protection_key = protection_key
        self.ttl_s = ttl_s
        self._static_limit = static_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._tickets: dict[str, _Ticket] = {}
        self._tokens: dict[str, tuple[str, datetime]] = {}  # ecToken -> (ID number, expiry)

    def issue(self, kind: CodeKind, person: Person, *, ttl_s: float | None = None) -> IssuedCode:
        ttl = timedelta(seconds=self.ttl_s if ttl_s is None else ttl_s)
        now = self._clock()
        with self._lock:
            if kind == "ssc-reader":
                return IssuedCode(reader_line(person), kind, None)
            if kind == "ehc-static":
                code = f"{person.ehc_id}:1"
                self._tickets.setdefault(code, _Ticket(kind, person.id_number, None, self._static_limit))
                return IssuedCode(code, kind, None)
            if kind == "ehc":
                code, expires = self._ehc_dynamic(person, now + ttl)
            else:
                expires = now + ttl
                code = _opaque_code(kind)
            self._tickets[code] = _Ticket(kind, person.id_number, expires, 1)
            return IssuedCode(code, kind, expires)

    def redeem(self, code: str, kind: Literal["essc", "nhsa"]) -> Verified:
        """Verify an opaque eSSC or NHSA code once."""
        with self._lock:
            ticket = self._tickets.get(code.strip())
            if ticket is None or ticket.kind != kind:
                raise Refusal("unknown_code", "no such code was issued")
            return self._use(ticket)

    def redeem_ehc(self, qr_text: str) -> Verified:
        """Verify an EHC QR text the way the card platform does: its EHC ID, then its validity."""
        try:
            qr = parse_ehc_qr(qr_text)
        except InvalidEhcCode as error:
            raise Refusal("unknown_code", str(error)) from None
        person = self._population.by_ehc_id(qr.ehc_id)
        if person is None:
            raise Refusal("forged", "the EHC ID names no card")
        if qr.encrypted_validity is not None:
            try:
                valid_until = validity_to_utc(decrypt_validity(self._protection_key, qr.encrypted_validity))
            except InvalidEhcCode:
                raise Refusal("forged", "the validity does not decrypt") from None
            text = f"{qr.ehc_id}:0:{qr.encrypted_validity}"
            default = _Ticket("ehc", person.id_number, valid_until, 1)
        else:
            text = f"{qr.ehc_id}:1"
            default = _Ticket("ehc-static", person.id_number, None, self._static_limit)
        with self._lock:
            # A genuine dynamic code this simulator did not hand out (another instance) is still valid.
            # The EHC platform answers a suspended card with its status, so it is not refused here.
            return self._use(self._tickets.setdefault(text, default), refuse_suspended=False)

    def issue_token(self, person: Person) -> str:
        """An NHSA ecToken: a short-lived credential for the transactions of one visit."""
        token = "EC" + secrets.token_hex(16).upper()
        with self._lock:
            # An ecToken serves the whole visit (1101, 2201, 2207 ...): it outlives the QR code.
            self._tokens[token] = (person.id_number, self._clock() + timedelta(seconds=max(self.ttl_s, 600)))
        return token

    def person_for_token(self, token: str) -> Person | None:
        entry = self._tokens.get(token)
        if entry is None or entry[1] < self._clock():
            return None
        return self._population.by_id_number(entry[0])

    def _use(self, ticket: _Ticket, *, refuse_suspended: bool = True) -> Verified:
        if ticket.expires_at is not None and self._clock() > ticket.expires_at:
            raise Refusal("expired", "the code has expired")
        if ticket.uses >= ticket.limit:
            raise Refusal("used", "the code has already been verified")
        person = self._population.by_id_number(ticket.id_number)
        if person is None:
            raise Refusal("unknown_code", "the code names nobody")
        if refuse_suspended and self._population.is_suspended(person):
            raise Refusal("suspended", "the card is suspended")
        ticket.uses += 1
        return Verified(person, ticket.limit - ticket.uses)

    def _ehc_dynamic(self, person: Person, until: datetime) -> tuple[str, datetime]:
        # The validity has one-second resolution: two codes in the same second would be the same
        # text, so later ones are valid a second longer to stay distinct and single-use.
        until = until.replace(microsecond=0)
        while True:
            code = f"{person.ehc_id}:0:{encrypt_validity(self._protection_key, until)}"
            if code not in self._tickets:
                return code, until
            until += timedelta(seconds=1)


def reader_line(person: Person) -> str:
    """The iReadCardBas line a card reader returns for this person's card (3rd generation read
    through a PSAM, so SSN and name are present)."""
    fields = (
        CARD_ISSUING_REGION,
        person.id_number,
        person.ssc_card_number,
        person.ssc_identification_code,
        person.name,
        ATR,
        "3.00",
        f"{person.ssc_issue_date:%Y%m%d}",
        f"{person.ssc_expiry_date:%Y%m%d}",
        "SANDBOX01",
        "SIM-READER-01",
    )
    return "|".join(fields) + "|"


def _opaque_code(kind: CodeKind) -> str:
    # Real payloads are unknown and opaque: a random token of a plausible length, nothing derivable.
    if kind == "nhsa":
        return secrets.token_hex(24).upper()
    return secrets.token_urlsafe(36)
