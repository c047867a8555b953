"""Golden cases: <case>.hl7 (message in, in its own charset) beside <case>.json (what must come out),
and optionally <case>.profile.json (the sender's settings, as SenderProfile keyword arguments).

The JSON files are the contract: reviewed by hand when written. `python -m tests.golden.cases` rewrites
them from the current mappings, for a reviewed change only (read the diff before committing it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mappings.fhir_to_v2 import Envelope, adt_message, merge_message
from mappings.hl7v2 import Message, parse
from mappings.v2_to_fhir import SenderProfile, map_message

V2_TO_FHIR = Path(__file__).resolve().parent / "v2_to_fhir"
FHIR_TO_V2 = Path(__file__).resolve().parent / "fhir_to_v2"
_CODECS = {"UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "GB 18030-2000": "gb18030", "GBK": "gb18030"}


def read_message(path: Path) -> Message:
    """Decode by MSH-18 (as the transport does; UTF-8 when empty), then parse."""
    raw = path.read_bytes()
    header = raw.split(b"\n", 1)[0].decode("ascii", "replace").split("|")
    declared = header[17].strip() if len(header) > 17 else ""
    return parse(raw.decode(_CODECS.get(declared, "utf-8")))


def profile_for(path: Path, message: Message) -> SenderProfile:
    """Each golden sender is a hospital whose code is MSH-4; <case>.profile.json adds its settings."""
    settings = path.with_suffix(".profile.json")
    extra = json.loads(settings.read_text(encoding="utf-8")) if settings.exists() else {}
    return SenderProfile(hospital_code=message.get("MSH-4"), **extra)


def produce(path: Path) -> dict[str, Any]:
    message = read_message(path)
    return map_message(message, profile_for(path, message)).to_json()


def cases() -> list[Path]:
    return sorted(V2_TO_FHIR.glob("*.hl7"))


def expected(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return result


def dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def fhir_cases() -> list[Path]:
    """tests/golden/fhir_to_v2/<case>.json (event, envelope, profile, resources) -> <case>.hl7."""
    return sorted(FHIR_TO_V2.glob("*.json"))


def build(path: Path) -> Message:
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    envelope = Envelope(**spec["envelope"])
    profile = SenderProfile(**spec.get("profile", {}))
    if spec["event"] == "A40":
        return merge_message(
            spec["surviving"], spec["prior"], envelope, prior_name=spec.get("priorName"), profile=profile
        )
    return adt_message(
        spec["event"],
        spec["patient"],
        envelope,
        encounter=spec.get("encounter"),
        coverages=spec.get("coverages", ()),
        profile=profile,
    )


def as_lines(message: Message) -> str:
    """Wire text with LF for CR, as the golden .hl7 files are stored."""
    return message.encode().replace("\r", "\n")


if __name__ == "__main__":
    for case in cases():
        case.with_suffix(".json").write_text(dump(produce(case)), encoding="utf-8")
        print("wrote", case.with_suffix(".json").name)
    for spec in fhir_cases():
        spec.with_suffix(".hl7").write_text(as_lines(build(spec)), encoding="utf-8")
        print("wrote", spec.with_suffix(".hl7").name)
