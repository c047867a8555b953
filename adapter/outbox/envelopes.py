"""OutboxEvent -> Envelope: the event plus the FHIR resources it names, read at delivery time.

Patient events carry ``versionId``: the version the event reports is sent (so a hospital sees each
change in order, not the latest state several times); when that version is no longer readable the
current one is. Events about a resource of the patient (a ChargeItem, a MedicationDispense ...) name it
in ``resource`` at ``resourceVersion``: it travels as the envelope's ``resource``.
"""

from __future__ import annotations

from typing import Any

from adapter.errors import ResourceGone, ResourceNotFound
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import OutboxEvent
from his_connectors import Destination, Envelope

Cache = dict[tuple[object, object], dict[str, Any] | None]


async def build_envelope(
    uow: UnitOfWork, event: OutboxEvent, destination: Destination, cache: Cache | None = None
) -> Envelope:
    """``cache``: shared by the envelopes of one claim round (several hospitals, one patient version)."""
    payload = event.payload
    cache = {} if cache is None else cache
    resources: dict[str, dict[str, Any]] = {}
    patient = await _cached(uow, cache, payload.get("patient"), payload.get("versionId"))
    if patient is not None:
        resources["patient"] = patient
    target = await _cached(uow, cache, payload.get("target"), None)
    if target is not None:
        resources["target"] = target
    recorded = await _cached(uow, cache, payload.get("resource"), payload.get("resourceVersion"))
    if recorded is not None:
        resources["resource"] = recorded
    return Envelope(
        event_id=event.id,
        topic=event.topic,
        hospital=destination.hospital,
        destination=destination.code,
        ordering_key=event.ordering_key,
        occurred_at=event.created_at.isoformat(),
        payload=dict(payload),
        resources=resources,
    )


async def _cached(uow: UnitOfWork, cache: Cache, reference: object, version: object) -> dict[str, Any] | None:
    key = (reference, version)
    if key not in cache:
        cache[key] = await _read(uow, reference, version)
    return cache[key]


async def _read(uow: UnitOfWork, reference: object, version: object) -> dict[str, Any] | None:
    if not isinstance(reference, str) or "/" not in reference:
        return None
    kind, _, resource_id = reference.partition("/")
    try:
        if isinstance(version, int):
            try:
                return (await uow.resources.vread(kind, resource_id, version)).body
            except (ResourceNotFound, ResourceGone):
                pass
        return (await uow.resources.read(kind, resource_id)).body
    except (ResourceNotFound, ResourceGone):
        return None
