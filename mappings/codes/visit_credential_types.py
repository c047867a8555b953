"""NHSA visit credential types (mdtrt_cert_type): a national default that insured regions extend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal, cast, get_args

from mappings.codes._data import read_csv
from mappings.codes.code_table import CodeTable

# What the accompanying number (mdtrt_cert_no) is for each credential type.
VisitCredential = Literal["ec_token", "id_number", "ssc_card_number", "essc_token", "other"]
_CREDENTIALS: frozenset[str] = frozenset(get_args(VisitCredential))

# One region's changes: code -> {"name", "credential", "needs_card_sn"} (partial for a known code),
# or None to withdraw a code the region does not accept.
VisitCredentialOverrides = Mapping[str, Mapping[str, object] | None]


@dataclass(frozen=True)
class VisitCredentialType:
    code: str
    name: str
    credential: VisitCredential
    needs_card_sn: bool = False  # the SSC also sends card_sn (the card identification code)


@cache
def default_visit_credential_types() -> CodeTable[VisitCredentialType]:
    """The national table: 01 e-voucher (ecToken), 02 ID card, 03 SSC."""
    return CodeTable.of(
        "NHSA mdtrt_cert_type",
        (
            (
                row["code"],
                VisitCredentialType(
                    row["code"],
                    row["name"],
                    cast(VisitCredential, row["credential"]),
                    row["needs_card_sn"] == "true",
                ),
            )
            for row in read_csv("nhsa_mdtrt_cert_type.csv")
        ),
    )


def visit_credential_types(
    overrides: VisitCredentialOverrides | None = None,
) -> CodeTable[VisitCredentialType]:
    """The default table with one insured region's overrides applied (a new table; the default is kept)."""
    entries = dict(default_visit_credential_types())
    for code, change in (overrides or {}).items():
        if change is None:
            entries.pop(code, None)
            continue
        entries[code] = _apply(code, entries.get(code), change)
    return CodeTable("NHSA mdtrt_cert_type (region overrides)", entries)


def visit_credential_types_for_region(
    insured_region: str, overrides_by_region: Mapping[str, VisitCredentialOverrides]
) -> CodeTable[VisitCredentialType]:
    """The table for an insured region code: its own overrides, else its prefecture's, else its province's."""
    for key in (insured_region, insured_region[:4] + "00", insured_region[:2] + "0000"):
        if key in overrides_by_region:
            return visit_credential_types(overrides_by_region[key])
    return default_visit_credential_types()


def _apply(
    code: str, current: VisitCredentialType | None, change: Mapping[str, object]
) -> VisitCredentialType:
    unknown = set(change) - {"name", "credential", "needs_card_sn"}
    if unknown:
        raise ValueError(f"mdtrt_cert_type {code}: unknown override keys {sorted(unknown)}")
    credential = change.get("credential", current.credential if current else None)
    if credential not in _CREDENTIALS:
        raise ValueError(f"mdtrt_cert_type {code}: credential must be one of {sorted(_CREDENTIALS)}")
    name = change.get("name", current.name if current else None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"mdtrt_cert_type {code}: a name is required")
    needs_card_sn = change.get("needs_card_sn", current.needs_card_sn if current else False)
    if not isinstance(needs_card_sn, bool):
        raise ValueError(f"mdtrt_cert_type {code}: needs_card_sn must be true or false")
    base = current or VisitCredentialType(code, name, cast(VisitCredential, credential))
    return replace(base, name=name, credential=cast(VisitCredential, credential), needs_card_sn=needs_card_sn)
