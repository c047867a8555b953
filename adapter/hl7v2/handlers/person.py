"""The person a message is about: its mapped Patient (PID) resolved through the patient index.

The index, not the message, owns the Patient: the mapped PID becomes PersonFacts (source
``his:<hospital>``) and ``PatientIndex.resolve`` finds or creates the one Patient for them, the same
one a card scan resolves to. The sending hospital's number (PID-3 MR/PI, a hospital patient number
system) is among the facts' identifiers, so it is linked to that person as that hospital's number.
A feed about someone unknown creates them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapter.errors import RequiredFieldMissing, UnknownKeyIdentifier
from adapter.hl7v2.handlers.parsed import hospital_source, sender_profile
from adapter.hl7v2.router import MessageContext
from adapter.mpi import PatientIndex, Resolution
from adapter.storage.ports import UnitOfWork
from mappings.codes import IdentifierSystems
from mappings.person import SINGLE_VALUED, FactIdentifier, PersonFacts, facts_from_patient
from mappings.v2_to_fhir import V2Result

# What the mapped Patient may carry that the index keeps on its own terms (or not at all).
_INDEX_FIELDS = frozenset(
    {"resourceType", "identifier", "active", "name", "gender", "birthDate", "telecom", "address", "extension"}
)


def mapped_patient(result: V2Result) -> dict[str, Any]:
    """The message's Patient (its first PID). AR 101 when there is no PID or PID-3 is empty."""
    patients = result.resources("Patient")
    if not patients:
        raise RequiredFieldMissing("the message has no PID segment", hl7_location="PID")
    patient = patients[0]
    if not any(i.get("value") for i in patient.get("identifier", [])):
        raise RequiredFieldMissing("PID-3 (patient identifier list) is empty", hl7_location="PID-3")
    return patient


def person_facts(context: MessageContext, patient: dict[str, Any], systems: IdentifierSystems) -> PersonFacts:
    """PersonFacts of a mapped Patient. Of a single-valued identifier sent twice in one system (MR and
    PI of one hospital), the first is kept. AE 204 when no identifier names a known system."""
    source = hospital_source(sender_profile(context.config), context.sender)
    facts = facts_from_patient(patient, systems, source=source)
    kept: list[FactIdentifier] = []
    for identifier in facts.identifiers:
        if identifier.key in SINGLE_VALUED and any(k.system == identifier.system for k in kept):
            continue
        kept.append(identifier)
    facts = replace(facts, identifiers=tuple(kept))
    if not facts.all_identifiers(systems):
        raise UnknownKeyIdentifier(
            "no PID-3 identifier has a known identifier system (CX.5 type or CX.4 authority)",
            hl7_location="PID-3",
        )
    return facts


async def resolve_person(
    context: MessageContext, uow: UnitOfWork, index: PatientIndex, result: V2Result
) -> Resolution:
    """The one Patient of the message's PID, created on first sight, identifiers linked."""
    patient = mapped_patient(result)
    facts = person_facts(context, patient, index.systems)
    return await index.resolve(uow, facts, actor=f"mllp:{context.sender}")


def not_kept(result: V2Result) -> tuple[str, ...]:
    """Parts of the mapped Patient the index does not keep (NK1 contacts, marital status ...), by name:
    reported with the message, never silently dropped."""
    patients = result.resources("Patient")
    if not patients:
        return ()
    return tuple(f"Patient.{key}" for key in patients[0] if key not in _INDEX_FIELDS)
