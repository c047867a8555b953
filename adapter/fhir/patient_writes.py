"""POST and PUT of Patient: the FHIR twin of the ADT feed (IHE PIXm ITI-104), through the same patient
index and rules as a card scan. An ordinary R4 Patient is accepted: the index builds the person from
what it knows, and elements it does not model (extensions, contacts, narrative …) are kept as sent."""

from __future__ import annotations

from typing import Any

from adapter.errors import DuplicateKey, InvalidRequest, InvalidResource
from adapter.fhir.search_params import index_tokens
from adapter.mpi import PATIENT_UPDATED, PatientIndex
from adapter.mpi.events import publish
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import StoredResource
from mappings.codes import IdentifierSystems
from mappings.person import PersonFacts, facts_from_patient

_SERVER_OWNED = frozenset({"id", "meta"})


class PatientWrites:
    def __init__(self, index: PatientIndex, systems: IdentifierSystems) -> None:
        self._index = index
        self._systems = systems

    def facts(self, body: dict[str, Any]) -> PersonFacts:
        try:
            return facts_from_patient(body, self._systems)
        except ValueError as error:
            raise InvalidResource(f"Patient: {error}") from None

    async def create(
        self, uow: UnitOfWork, body: dict[str, Any], *, actor: str
    ) -> tuple[StoredResource, bool]:
        resolution = await self._index.resolve(uow, self.facts(body), actor=actor)
        kept = _keep_unmodelled(resolution.patient, body)
        if kept != resolution.patient:
            stored, _ = await uow.resources.update(
                kept, tokens=index_tokens(kept), if_match=resolution.version_id
            )
            return stored, resolution.created
        return await uow.resources.read("Patient", resolution.patient_id), resolution.created

    async def update(
        self, uow: UnitOfWork, body: dict[str, Any], *, if_match: int | None, actor: str
    ) -> tuple[StoredResource, bool]:
        patient_id = body["id"]
        unlinked: list[tuple[str, str]] = []
        for identifier in body.get("identifier", []):
            system, value = identifier.get("system"), identifier.get("value")
            if not system or not value:
                continue
            link = await uow.identities.find(system, value)
            if link is None:
                unlinked.append((system, value))
            elif link.patient_id != patient_id:
                # One person per identifier: moving it is a merge, which has its own operation.
                raise DuplicateKey(
                    "an identifier in this Patient belongs to another Patient; use $merge",
                    expression=("Patient.identifier",),
                )
        if body.get("link") and any(link.get("type") == "replaced-by" for link in body["link"]):
            raise InvalidRequest(
                "replaced-by links are set by $merge, not by update", expression=("Patient.link",)
            )
        stored, created = await uow.resources.update(body, tokens=index_tokens(body), if_match=if_match)
        for system, value in unlinked:
            await uow.identities.link(system, value, patient_id)
        await publish(uow, PATIENT_UPDATED, patient_id, versionId=stored.version_id)
        return stored, created


def _keep_unmodelled(patient: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """The index's Patient plus what the client sent that the index does not model: elements it
    lacks, and extensions with other URLs than its own."""
    kept = dict(patient)
    for key, value in sent.items():
        if key in _SERVER_OWNED:
            continue
        if key not in kept:
            kept[key] = value
        elif key == "extension":
            own = {extension.get("url") for extension in kept["extension"]}
            kept["extension"] = kept["extension"] + [e for e in value if e.get("url") not in own]
    return kept
