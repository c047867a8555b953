"""ADT^A40 (merge patient, MRG): the prior patient (found by the MRG-1/MRG-4 identifiers) merges into
the surviving one (found by PID-3) in the patient index, with history: the prior Patient becomes
inactive with ``link replaced-by``, its identifiers move, and a Provenance records it (PMIR style).

The surviving patient unknown: created from the PID, like any feed. The prior unknown: AE 204 at
MRG-1 (nothing to merge). A merge already done (the prior already replaced by the survivor): AA, and
nothing is written again.
"""

from __future__ import annotations

from dataclasses import replace

from adapter.errors import RequiredFieldMissing, UnknownKeyIdentifier
from adapter.hl7v2.handlers.parsed import mapped
from adapter.hl7v2.handlers.person import mapped_patient, person_facts
from adapter.hl7v2.handlers.report import ack_note
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.mpi import PatientIndex
from adapter.mpi.patients import read_surviving
from adapter.storage.ports import UnitOfWork
from mappings.person import PersonFacts
from mappings.v2_to_fhir import MergeInstruction


class MergeHandler:
    def __init__(self, index: PatientIndex) -> None:
        self._index = index

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        _, result = mapped(context)
        patient = mapped_patient(result)
        if not result.merges:
            raise RequiredFieldMissing("ADT^A40 without an MRG segment", hl7_location="MRG")
        instruction = result.merges[0]
        prior_id = (await read_surviving(uow, await _prior(uow, instruction))).id
        actor = f"mllp:{context.sender}"
        facts = person_facts(context, patient, self._index.systems)
        named = {(str(i.get("system")), str(i.get("value"))) for i in instruction.prior}
        surviving_id = None
        for identifier in facts.all_identifiers(self._index.systems):
            link = await uow.identities.find(identifier.system, identifier.value)
            if link is not None and (identifier.system, identifier.value) not in named:
                surviving_id = (await read_surviving(uow, link.patient_id)).id
                break
        merged = None
        if surviving_id is None:  # only the prior's identifiers are known: the survivor is new
            surviving_id = await self._new_survivor(uow, facts, prior_id, actor)
        if surviving_id != prior_id:  # equal: merged already (a re-sent A40), nothing to write
            reason = f"HL7 {context.kind} {context.msh.control_id}"
            merged = await self._index.merge(uow, prior_id, surviving_id, actor=actor, reason=reason)
        survivor = await uow.resources.read("Patient", surviving_id)
        resources = [f"Patient/{survivor.id}/_history/{survivor.version_id}"]
        if merged is not None:
            source = await uow.resources.read("Patient", merged.source_id)
            resources += [f"Patient/{source.id}/_history/{source.version_id}", merged.provenance]
        return HandlerResult(
            patient_id=surviving_id, resources=tuple(resources), ack_text=ack_note(result, context.kind)
        )

    async def _new_survivor(self, uow: UnitOfWork, facts: PersonFacts, prior_id: str, actor: str) -> str:
        """The surviving patient when none of its identifiers is known yet: created from the PID's
        identifiers that are not the prior patient's."""
        systems = self._index.systems
        prior_links = {(k.system, k.value) for k in await uow.identities.links_for(prior_id)}
        fresh = tuple(i for i in facts.identifiers if (i.system, i.value) not in prior_links)
        certificate = facts.certificate_identifier(systems)
        keep_id = certificate is not None and (certificate.system, certificate.value) not in prior_links
        facts = replace(facts, identifiers=fresh, id_number=facts.id_number if keep_id else None)
        if not facts.all_identifiers(systems):
            raise UnknownKeyIdentifier(
                "PID-3 names only the prior patient: nothing to merge into", hl7_location="PID-3"
            )
        return (await self._index.resolve(uow, facts, actor=actor)).patient_id


async def _prior(uow: UnitOfWork, instruction: MergeInstruction) -> str:
    """The Patient the MRG identifiers name (the record itself, even if it was merged already)."""
    for identifier in instruction.prior:
        system, value = identifier.get("system"), identifier.get("value")
        if system and value:
            link = await uow.identities.find(str(system), str(value))
            if link is not None:
                return link.patient_id
    raise UnknownKeyIdentifier("no patient is known by the MRG-1 prior identifiers", hl7_location="MRG-1")
