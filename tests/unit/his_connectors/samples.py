"""Synthetic patients and envelopes (made-up people; the ID numbers only have a valid shape)."""

from __future__ import annotations

from typing import Any

from his_connectors import Envelope

ID_SYSTEM = "urn:oid:2.16.840.1.113883.2.23.1.19.1"


def patient(n: int = 1, *, family: str = "测", given: str = "试") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"p{n}",
        "identifier": [
            {"system": ID_SYSTEM, "value": f"11010519900101{n:03d}X"[-18:]},
            {"system": "urn:dualcode:hospital:H0001:patient-number", "value": f"MR{n:05d}"},
        ],
        "name": [{"use": "official", "text": family + given, "family": family, "given": [given]}],
        "gender": "female",
        "birthDate": "1990-01-01",
    }


def envelope(
    topic: str = "patient.created",
    n: int = 1,
    *,
    event_id: str = "0123456789abcdef0123456789abcdef",
    hospital: str = "H0001",
    **resources: dict[str, Any],
) -> Envelope:
    return Envelope(
        event_id=event_id,
        topic=topic,
        hospital=hospital,
        destination=f"{hospital}:adt",
        ordering_key=f"Patient/p{n}",
        occurred_at="2026-11-29T08:30:00+00:00",
        payload={"patient": f"Patient/p{n}"},
        resources=resources or {"patient": patient(n)},
    )
