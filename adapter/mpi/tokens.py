"""The search tokens the repository indexes for a Patient: identifiers, name (Chinese text folded to
simplified, family, given, toneless pinyin), birthdate, gender, and the MPI's blocking keys.

All of them are stored as keyed blind indexes by the SQL store, so a block key ("bs:1990-01-01:1")
reveals nothing at rest. Blocking keys are deliberately coarse: they pick candidates, scoring decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from adapter.mpi.phonetics import pinyin_keys
from adapter.storage.records import SearchToken
from mappings.codes import sex_for_fhir_gender
from mappings.person import SEX_EXTENSION, fold_name, split_name

BLOCK_PARAM: Final = "mpi-block"
GENDER_SYSTEM: Final = "http://hl7.org/fhir/administrative-gender"


def patient_index_tokens(body: dict[str, Any]) -> list[SearchToken]:
    """Every token to index for this Patient body (the FHIR layer passes these to create/update)."""
    tokens = [
        SearchToken("identifier", identifier.get("system"), identifier["value"])
        for identifier in body.get("identifier", [])
        if identifier.get("value")
    ]
    name = primary_name(body)
    pinyin = pinyin_keys(name) if name else []  # once: the name tokens and the blocking keys share it
    if name:
        tokens.extend(SearchToken("name", None, value) for value in name_values(name, pinyin=pinyin))
    birth_date = body.get("birthDate")
    if birth_date:
        tokens.append(SearchToken("birthdate", None, birth_date))
    gender = body.get("gender")
    if gender:
        tokens.append(SearchToken("gender", GENDER_SYSTEM, gender))
    keys = block_keys(
        name=name, birth_date=birth_date, sex=sex_code_of(body), phones=phones_of(body), pinyin=pinyin
    )
    tokens.extend(SearchToken(BLOCK_PARAM, None, key) for key in keys)
    return _unique(tokens)


def name_search_value(query: str) -> str:
    """How a ``name=`` search value must be normalised to hit a name token (Chinese or pinyin)."""
    return fold_name(query)


def name_values(name: str, *, pinyin: list[str] | None = None) -> list[str]:
    """``pinyin``: ``pinyin_keys(name)`` when the caller has it already."""
    parts = split_name(name)
    values = [fold_name(name)]
    values.extend(fold_name(p) for p in (parts.family, *parts.given) if p)
    values.extend(pinyin_keys(name) if pinyin is None else pinyin)
    return values


def block_keys(
    *,
    name: str | None,
    birth_date: str | None,
    sex: str | None,
    phones: Iterable[str] = (),
    pinyin: list[str] | None = None,
) -> list[str]:
    """Blocking keys: birth date + sex; pinyin + birth year; pinyin alone only when there is no
    birth date (a probe without one); each phone. ``pinyin``: ``pinyin_keys(name)`` when known."""
    keys: list[str] = []
    if birth_date and sex and sex not in ("0", "9"):
        keys.append(f"bs:{birth_date}:{sex}")
    if pinyin is None:
        pinyin = pinyin_keys(name) if name else []
    for key in pinyin:
        keys.append(f"py:{key}:{birth_date[:4]}" if birth_date else f"py:{key}")
    keys.extend(f"ph:{phone}" for phone in phones)
    return keys


def primary_name(body: dict[str, Any]) -> str | None:
    names = body.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if not official:
        return None
    text = official.get("text") or "".join([official.get("family", ""), *official.get("given", [])])
    return str(text) or None


def sex_code_of(body: dict[str, Any]) -> str | None:
    """GB/T 2261.1 code: the extension we keep, else derived from the FHIR gender."""
    for extension in body.get("extension", []):
        if extension.get("url") == SEX_EXTENSION:
            return str(extension["valueCoding"]["code"])
    gender = body.get("gender")
    try:
        return sex_for_fhir_gender(gender) if gender else None
    except KeyError:
        return None


def phones_of(body: dict[str, Any]) -> list[str]:
    return [t["value"] for t in body.get("telecom", []) if t.get("system") == "phone" and t.get("value")]


def _unique(tokens: list[SearchToken]) -> list[SearchToken]:
    return list(dict.fromkeys(tokens))
