"""A closed tube's event as the sampling service writes it (synthetic people), for connector tests."""

from __future__ import annotations

from datetime import UTC, datetime

from adapter.sampling.lab import oml_messages, tube_bundle
from adapter.storage.records import SamplingRegistration, SamplingTube
from his_connectors import Envelope

AT = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)


def tube_closed(members: int = 3, *, hospital: str = "H0001", event_id: str = "ab" * 16) -> Envelope:
    tube = SamplingTube("TUBE0001", "R1", "P01", 10, AT, filled=members, status="closed", closed_at=AT)
    registrations = [
        SamplingRegistration(f"reg{n:04d}", tube.barcode, n, f"p{n}", "R1", "P01", AT, "client")
        for n in range(1, members + 1)
    ]
    payload = {
        "tube": tube.barcode,
        "members": [{"position": m.position, "patient": f"Patient/{m.patient_id}"} for m in registrations],
        "bundle": tube_bundle(tube, registrations),
        "oml": oml_messages(tube, registrations, sender=tube.point),
    }
    return Envelope(
        event_id=event_id,
        topic="sampling.tube-closed",
        hospital=hospital,
        destination=f"{hospital}:lab",
        ordering_key=f"tube/{tube.barcode}",
        occurred_at=AT.isoformat(),
        payload=payload,
    )
