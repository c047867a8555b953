"""The common path of every message about one patient (ADT, DFT, RDE, RDS, ORU): map it, resolve its
PID through the patient index, store the other resources referencing that Patient, all in the unit
of work the gateway gives (it commits with the message's outcome, or nothing does)."""

from __future__ import annotations

from collections.abc import Callable

from adapter.errors import RequiredFieldMissing
from adapter.hl7v2.handlers.parsed import mapped, sender_profile
from adapter.hl7v2.handlers.person import mapped_patient, resolve_person
from adapter.hl7v2.handlers.report import ack_note
from adapter.hl7v2.handlers.store import store_entries, version_ref
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex
from adapter.storage.ports import UnitOfWork
from mappings.v2_to_fhir import V2Result


async def apply_feed(
    context: MessageContext,
    uow: UnitOfWork,
    index: PatientIndex,
    *,
    primary: frozenset[str],
    requires: tuple[str, str] | None = None,
    adjust: Callable[[V2Result], V2Result] | None = None,
) -> HandlerResult:
    """``primary``: the resource types the message is about (see ``store_entries``). ``requires``
    (resource type, segment): AR 101 at that segment when the message maps to none. ``adjust``: the
    family's own say on what of the mapping is kept (it reports what it leaves out)."""
    _, result = mapped(context)
    if adjust is not None:
        result = adjust(result)
    mapped_patient(result)  # AR before anything is written
    if requires is not None and not result.resources(requires[0]):
        kind, segment = requires
        raise RequiredFieldMissing(f"no {segment} segment: nothing to record as {kind}", hl7_location=segment)
    resolution = await resolve_person(context, uow, index, result)
    patient_url = next(e.full_url for e in result.entries if e.resource["resourceType"] == "Patient")
    stored = await store_entries(
        uow,
        result.entries,
        patient_url=patient_url,
        patient_id=resolution.patient_id,
        scope=sender_profile(context.config).hospital_code or context.sender,
        primary=primary,
        new_patient=resolution.created,
    )
    resources = (
        f"Patient/{resolution.patient_id}/_history/{resolution.version_id}",
        *(version_ref(s) for s in stored),
    )
    return HandlerResult(
        patient_id=resolution.patient_id, resources=resources, ack_text=ack_note(result, context.kind)
    )
