"""Build ADT messages from FHIR: Patient (+ Encounter, Coverage) -> ADT^A01/A04/A08/A28/A31;
a merge -> ADT^A40. Time and control id come in (mappings read no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mappings.fhir_to_v2.datatypes import Json, cx, dtm, xpn
from mappings.fhir_to_v2.segments import in1, nk1s, pd1, pid, pv1, pv2
from mappings.hl7v2 import DEFAULT_DELIMITERS, Message, Segment, message, segment
from mappings.v2_to_fhir.profile import DEFAULT_PROFILE, SenderProfile

AdtEvent = Literal["A01", "A04", "A08", "A28", "A31"]
# Event -> message structure (HL7 v2.5 table 0354)
_STRUCTURE = {"A01": "ADT_A01", "A04": "ADT_A01", "A08": "ADT_A01", "A28": "ADT_A05", "A31": "ADT_A05"}


@dataclass(frozen=True)
class Envelope:
    """MSH/EVN values. `timestamp` is a FHIR dateTime (or a v2 DTM) given by the caller."""

    control_id: str
    timestamp: str
    sending_application: str = "DUALCODE"
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    version: str = "2.5"
    processing_id: str = "P"
    charset: str = "UNICODE UTF-8"


def _msh(envelope: Envelope, event: str, structure: str, kind: str = "ADT") -> Segment:
    when = dtm(envelope.timestamp) if "-" in envelope.timestamp[:5] else envelope.timestamp
    return segment(
        "MSH",
        {
            3: envelope.sending_application,
            4: envelope.sending_facility,
            5: envelope.receiving_application,
            6: envelope.receiving_facility,
            7: when,
            9: (kind, event, structure),
            10: envelope.control_id,
            11: envelope.processing_id,
            12: envelope.version,
            18: envelope.charset,
        },
    )


def _evn(envelope: Envelope, event: str) -> Segment:
    when = dtm(envelope.timestamp) if "-" in envelope.timestamp[:5] else envelope.timestamp
    return segment("EVN", {1: event, 2: when})


def adt_message(
    event: AdtEvent,
    patient: Json,
    envelope: Envelope,
    *,
    encounter: Json | None = None,
    coverages: Sequence[Json] = (),
    profile: SenderProfile = DEFAULT_PROFILE,
) -> Message:
    """ADT for a patient (and visit): MSH, EVN, PID, [PD1], [NK1...], PV1, [PV2], [IN1...]."""
    segments = [_msh(envelope, event, _STRUCTURE[event]), _evn(envelope, event)]
    segments.append(segment("PID", pid(patient, profile)))
    primary = pd1(patient)
    if primary:
        segments.append(segment("PD1", primary))
    segments += [segment("NK1", fields) for fields in nk1s(patient)]
    segments.append(segment("PV1", pv1(encounter, profile)))
    visit_extra = pv2(encounter)
    if visit_extra:
        segments.append(segment("PV2", visit_extra))
    segments += [segment("IN1", in1(c, n, patient, profile)) for n, c in enumerate(coverages, 1)]
    return message(segments)


def merge_message(
    surviving: Json,
    prior_identifiers: Sequence[Json],
    envelope: Envelope,
    *,
    prior_name: Json | None = None,
    prior_account: str = "",
    prior_visit: str = "",
    profile: SenderProfile = DEFAULT_PROFILE,
) -> Message:
    """ADT^A40: the surviving Patient in PID, the prior identifiers (and name) in MRG."""
    prior = [c for c in (cx(i, profile) for i in prior_identifiers) if c is not None]
    if not prior:
        raise ValueError("a merge needs at least one prior identifier")
    mrg = segment(
        "MRG",
        {1: list(prior), 3: prior_account, 5: prior_visit, 7: xpn(prior_name) if prior_name else None},
        DEFAULT_DELIMITERS,
    )
    segments = [
        _msh(envelope, "A40", "ADT_A39"),
        _evn(envelope, "A40"),
        segment("PID", pid(surviving, profile)),
        mrg,
    ]
    return message(segments)
