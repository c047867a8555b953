"""Envelope -> HL7 v2 wire text for one destination, with its vendor profile applied.

The message itself comes from mappings.fhir_to_v2 (Patient -> ADT, merge -> A40, ChargeItem ->
DFT^P03, MedicationDispense -> RDS^O13); the profile's quirks are applied to the encoded text
afterwards, so the mappings stay vendor-free. A closed sampling tube (O21) is several messages, one
OML^O21 per member, already built when the tube closed (the event's payload): ``render_v2_batch``
addresses them to the hospital.

One event goes to several hospitals with the same resources, time and event: only MSH-6 (the
hospital) and MSH-10 (the control id) differ. The text without them is kept in a small cache keyed
on everything that shapes it (the resources' JSON included, so a stale copy is impossible) and the two
fields are put in per destination: rendering once per event instead of once per hospital.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

from his_connectors.base import Envelope, RenderError
from his_connectors.profiles import VendorProfile
from mappings.fhir_to_v2 import AdtEvent, adt_message, dft_message, merge_message, rds_message
from mappings.fhir_to_v2 import Envelope as MessageHeader

_MSH18 = {"utf-8": "UNICODE UTF-8", "utf8": "UNICODE UTF-8", "gb18030": "GB 18030-2000", "gbk": ""}
_ADT_EVENTS = ("A01", "A04", "A08", "A28", "A31")
LAB_ORDER_EVENT = "O21"  # one OML^O21 per member of a closed tube: see render_v2_batch
# trigger event -> (the resource the event is about, its resourceType, the message)
_ORDER_EVENTS = {"P03": "ChargeItem", "O13": "MedicationDispense"}
_PLAIN = re.compile(r"[A-Za-z0-9_.-]*")  # needs no HL7 escaping: safe to put into MSH as it is
_CACHE_SIZE = 2048
_rendered: dict[tuple[str, ...], str] = {}


def render_v2(envelope: Envelope, *, profile: VendorProfile, version: str, encoding: str) -> str:
    event = profile.events.get(envelope.topic)
    if event is None:
        raise RenderError(f"profile {profile.name} has no HL7 event for topic {envelope.topic}")
    if event == LAB_ORDER_EVENT:
        raise RenderError("a lab order event is several messages: use render_v2_batch")
    if envelope.resources.get("patient") is None:
        raise RenderError("the event carries no patient")
    charset = profile.msh18 if profile.msh18 is not None else _MSH18.get(encoding, "")
    if not (_PLAIN.fullmatch(envelope.hospital) and _PLAIN.fullmatch(envelope.control_id)):
        text = _render(envelope, event, profile, version, charset, envelope.hospital, envelope.control_id)
        return apply_quirks(text, envelope, profile)
    key = (
        event, version, charset, profile.sending_application, profile.receiving_application,
        envelope.occurred_at, json.dumps(envelope.resources, default=str),  # same body, same text
    )  # fmt: skip
    shared = _rendered.get(key)
    if shared is None:
        shared = _render(envelope, event, profile, version, charset, "", "")
        if len(_rendered) >= _CACHE_SIZE:
            del _rendered[next(iter(_rendered))]  # the oldest entry
        _rendered[key] = shared
    return apply_quirks(_with_msh(shared, envelope.hospital, envelope.control_id), envelope, profile)


def _with_msh(text: str, hospital: str, control_id: str) -> str:
    """MSH-6 and MSH-10 put into a message rendered without them (both plain: no escaping)."""
    msh, _, rest = text.partition("\r")
    fields = msh.split(msh[3])  # fields[n - 1] is MSH-n (MSH-1 is the separator itself)
    fields[5], fields[9] = hospital, control_id
    return msh[3].join(fields) + "\r" + rest


def _render(
    envelope: Envelope, event: str, profile: VendorProfile, version: str, charset: str, hospital: str,
    control_id: str,
) -> str:  # fmt: skip
    patient = envelope.resources["patient"]
    header = MessageHeader(
        control_id=control_id,
        timestamp=envelope.occurred_at,
        sending_application=profile.sending_application,
        receiving_application=profile.receiving_application,
        receiving_facility=hospital,
        version=version,
        charset=charset,
    )
    target = envelope.resources.get("target")
    if event == "A40" and target is None:
        raise RenderError("a merge event carries no surviving patient")
    try:
        if event == "A40" and target is not None:
            message = merge_message(dict(target), _identifiers(patient), header)
        elif event in _ORDER_EVENTS:
            message = _order_message(envelope, event, dict(patient), header)
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
        raise RenderError(f"cannot build the {event} message: {type(error).__name__}") from None
    return message.encode()


def _order_message(envelope: Envelope, event: str, patient: dict[str, Any], header: MessageHeader) -> Any:
    resource = envelope.resources.get("resource")
    kind = _ORDER_EVENTS[event]
    if resource is None or resource.get("resourceType") != kind:
        raise RenderError(f"the event carries no {kind}")
    if event == "P03":
        return dft_message(patient, [dict(resource)], header)
    return rds_message(patient, dict(resource), header)


def render_v2_batch(
    envelope: Envelope, *, profile: VendorProfile, version: str, encoding: str
) -> list[tuple[str, str]]:
    """(control id, wire text) of every message the event becomes: one for most events; for a closed
    tube, its OML^O21 messages (MSH-10 from each member's registration, the same on every retry),
    addressed to the hospital (MSH-6) in the destination's charset (MSH-18)."""
    event = profile.events.get(envelope.topic)
    if event != LAB_ORDER_EVENT:
        text = render_v2(envelope, profile=profile, version=version, encoding=encoding)
        return [(envelope.control_id, text)]
    texts = envelope.payload.get("oml")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise RenderError("the event carries no OML^O21 messages")
    charset = profile.msh18 if profile.msh18 is not None else _MSH18.get(encoding, "")
    out = []
    for text in texts:
        msh, _, rest = text.replace("\n", "\r").partition("\r")
        fields = msh.split(msh[3]) if len(msh) > 8 and msh.startswith("MSH") else []
        if len(fields) < 12 or not _PLAIN.fullmatch(envelope.hospital) or not fields[9]:
            raise RenderError("an OML^O21 of the event has no usable MSH")
        fields += [""] * (18 - len(fields))
        fields[5], fields[17] = envelope.hospital, charset
        out.append((fields[9], apply_quirks(msh[3].join(fields) + "\r" + rest, envelope, profile)))
    return out


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
