"""Envelope -> HL7 v2 wire text for one destination, with its vendor profile applied.

The message itself comes from mappings.fhir_to_v2 (Patient -> ADT, merge -> A40); the profile's
quirks are applied to the encoded text afterwards, so the mappings stay vendor-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from his_connectors.base import Envelope, RenderError
from his_connectors.profiles import VendorProfile
from mappings.fhir_to_v2 import AdtEvent, adt_message, merge_message
from mappings.fhir_to_v2 import Envelope as MessageHeader

_MSH18 = {"utf-8": "UNICODE UTF-8", "utf8": "UNICODE UTF-8", "gb18030": "GB 18030-2000", "gbk": ""}
_ADT_EVENTS = ("A01", "A04", "A08", "A28", "A31")


def render_v2(envelope: Envelope, *, profile: VendorProfile, version: str, encoding: str) -> str:
    event = profile.events.get(envelope.topic)
    if event is None:
        raise RenderError(f"profile {profile.name} has no HL7 event for topic {envelope.topic}")
    patient = envelope.resources.get("patient")
    if patient is None:
        raise RenderError("the event carries no patient")
    header = MessageHeader(
        control_id=envelope.control_id,
        timestamp=envelope.occurred_at,
        sending_application=profile.sending_application,
        receiving_application=profile.receiving_application,
        receiving_facility=envelope.hospital,
        version=version,
        charset=profile.msh18 if profile.msh18 is not None else _MSH18.get(encoding, ""),
    )
    target = envelope.resources.get("target")
    if event == "A40" and target is None:
        raise RenderError("a merge event carries no surviving patient")
    try:
        if event == "A40" and target is not None:
            message = merge_message(dict(target), _identifiers(patient), header)
        elif event in _ADT_EVENTS:
            encounter = envelope.resources.get("encounter")
            message = adt_message(
                cast(AdtEvent, event),
                dict(patient),
                header,
                encounter=None if encounter is None else dict(encounter),
            )
        else:
            raise RenderError(f"HL7 event {event} is not one we build")
    except RenderError:
        raise
    except (KeyError, TypeError, ValueError) as error:  # a resource the mapping cannot take
        raise RenderError(f"cannot build ADT^{event}: {type(error).__name__}") from None
    return apply_quirks(message.encode(), envelope, profile)


def _identifiers(patient: Mapping[str, Any]) -> list[Any]:
    return list(patient.get("identifier", []))


def apply_quirks(text: str, envelope: Envelope, profile: VendorProfile) -> str:
    segments = [s for s in text.split("\r") if s]
    if not profile.identifier_type_codes and not profile.copy_fields and not profile.z_segments:
        return text
    fs, cs, rs = segments[0][3], segments[0][4], segments[0][5]
    out: list[str] = []
    for line in segments:
        fields = line.split(fs)
        if fields[0] == "PID" and len(fields) > 3 and profile.identifier_type_codes:
            fields[3] = _recode_cx5(fields[3], profile.identifier_type_codes, cs, rs)
        for copy in profile.copy_fields:
            if fields[0] == copy.segment and len(fields) > copy.source:
                fields += [""] * (copy.target + 1 - len(fields))
                fields[copy.target] = fields[copy.source].split(rs)[0]  # first repetition
        out.append(fs.join(fields))
    values = _z_values(envelope)
    for z in profile.z_segments:
        out.append(fs.join([z.name, *(values.get(source, "") for source in z.fields)]))
    return "\r".join(out) + "\r"


def _recode_cx5(field: str, codes: Mapping[str, str], cs: str, rs: str) -> str:
    reps = []
    for rep in field.split(rs):
        parts = rep.split(cs)
        if len(parts) > 4 and parts[4] in codes:
            parts[4] = codes[parts[4]]
        reps.append(cs.join(parts))
    return rs.join(reps)


def _z_values(envelope: Envelope) -> dict[str, str]:
    patient = envelope.resources.get("patient", {})
    return {
        "event.id": envelope.event_id,
        "event.topic": envelope.topic,
        "hospital": envelope.hospital,
        "patient.id": str(patient.get("id", "")),
        "occurred_at": envelope.occurred_at,
    }
