"""What one source knows about a person, as an immutable value (never a short-lived token)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from mappings.codes import IdentifierKey, IdentifierSystems, certificate_types, ethnicities, sex_codes
from mappings.identity_documents import normalise_id_number
from mappings.masking import mask_identifier

RESIDENT_ID: Final = "01"  # WS 364 CV02.01.101: resident ID card (also residence permits, FPR IDs)
# Certificates other than the resident ID have no published identifier system: one per type, ours.
CERTIFICATE_SYSTEM: Final = "urn:dualcode:ws364:certificate-type:{type}"

_SOURCE = re.compile(r"(essc|ehc|nhsa|ssc|idcard|fhir|his:[A-Za-z0-9._-]+)")


@dataclass(frozen=True, slots=True)
class FactIdentifier:
    """One identifier: key None for a certificate outside the identifier-systems table."""

    key: IdentifierKey | None
    system: str
    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.value or not self.value.strip() or ":" not in self.system:
            raise ValueError("an identifier needs a system URI and a value")

    @property
    def masked(self) -> str:
        return mask_identifier(self.value)


def identifier_of(
    systems: IdentifierSystems, key: IdentifierKey, value: str, *, hospital_code: str | None = None
) -> FactIdentifier:
    """The identifier for a key, in the configured system (a hospital's own for patient numbers)."""
    if key is IdentifierKey.HOSPITAL_PATIENT_NUMBER:
        if hospital_code is None:
            raise ValueError("a hospital patient number needs the hospital code")
        return FactIdentifier(key, systems.hospital_patient_number(hospital_code), value)
    return FactIdentifier(key, systems.system(key), value)


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """A person as one source (essc, ehc, nhsa, ssc, idcard, his:<code>, fhir) tells it.

    Codes: certificate type WS 364 CV02.01.101, sex GB/T 2261.1, ethnicity GB 3304 numeric. The
    repr hides every personal value. There is deliberately no field for an ecToken or eSSC code:
    they are credentials of one scan and stay on the transaction.
    """

    source: str
    identifiers: tuple[FactIdentifier, ...] = ()
    id_number: str | None = field(default=None, repr=False)  # the certificate number
    certificate_type: str = RESIDENT_ID
    name: str | None = field(default=None, repr=False)
    sex: str | None = None
    birth_date: date | None = None
    ethnicity: str | None = None
    phone: str | None = field(default=None, repr=False)
    address: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _SOURCE.fullmatch(self.source):
            raise ValueError(f"unknown source {self.source!r}")
        if self.certificate_type not in certificate_types():
            raise ValueError(f"unknown certificate type {self.certificate_type!r} (WS 364)")
        if self.sex is not None and self.sex not in sex_codes():
            raise ValueError(f"unknown GB/T 2261.1 sex code {self.sex!r}")
        if self.ethnicity is not None and self.ethnicity not in ethnicities():
            raise ValueError(f"unknown GB 3304 ethnicity code {self.ethnicity!r}")
        if self.id_number is not None:
            object.__setattr__(self, "id_number", normalise_id_number(self.id_number) or None)
        for text_field in ("name", "phone", "address"):
            value = getattr(self, text_field)
            if value is not None and not value.strip():
                object.__setattr__(self, text_field, None)

    def certificate_identifier(self, systems: IdentifierSystems) -> FactIdentifier | None:
        """The identifier the certificate gives: the ID number system for a resident ID, else a
        per-certificate-type system."""
        if self.id_number is None:
            return None
        if self.certificate_type == RESIDENT_ID:
            return identifier_of(systems, IdentifierKey.ID_NUMBER, self.id_number)
        return FactIdentifier(None, CERTIFICATE_SYSTEM.format(type=self.certificate_type), self.id_number)

    def all_identifiers(self, systems: IdentifierSystems) -> tuple[FactIdentifier, ...]:
        """The certificate identifier first (it decides), then the others, without repeats."""
        first = self.certificate_identifier(systems)
        ordered = ((first,) if first else ()) + self.identifiers
        seen: set[tuple[str, str]] = set()
        unique: list[FactIdentifier] = []
        for each in ordered:
            if (each.system, each.value) not in seen:
                seen.add((each.system, each.value))
                unique.append(each)
        return tuple(unique)

    def anchor(self, systems: IdentifierSystems) -> FactIdentifier | None:
        """The identifier resolution is deterministic on: the certificate, else an ID number given
        among the identifiers, else None (the caller falls back to the other identifiers)."""
        cert = self.certificate_identifier(systems)
        if cert is not None:
            return cert
        return next((i for i in self.identifiers if i.key is IdentifierKey.ID_NUMBER), None)
