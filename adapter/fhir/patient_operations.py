"""Patient operations: $resolve-card, $ihe-pix (ITI-83), $match (ITI-119), $merge and $unmerge.

Framework-free like the core: Parameters in, FhirResponse out, scopes checked here."""

from __future__ import annotations

from typing import Any

from adapter.errors import InsufficientScope, InvalidRequest, InvalidSearch, ResourceNotFound
from adapter.fhir.exchange import FhirResponse
from adapter.fhir.parameters import ParametersIn, parameters, part
from adapter.fhir.validation import validate_resource
from adapter.mpi import MatchGrade, PatientIndex
from adapter.scan import CardScanService, ScanRequest, ScanResult
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.caller import Caller
from adapter.security.scopes import ADMIN_SCOPE, allows
from adapter.storage.ports import Storage
from mappings.codes import IdentifierSystems
from mappings.person import facts_from_patient

KINDS = frozenset({"essc", "ehc", "ssc", "idcard", "nhsa"})
STEPS = frozenset({"registration", "payment", "treatment", "pharmacy", "settlement", "sampling"})
MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


def require(caller: Caller, resource_type: str, letter: str) -> None:
    if not allows(caller.scopes, resource_type, letter):
        raise InsufficientScope(f"needs system/{resource_type}.{letter}")


class PatientOperations:
    def __init__(
        self,
        *,
        storage: Storage,
        scan: CardScanService,
        index: PatientIndex,
        systems: IdentifierSystems,
        auditor: Auditor,
        audit_writer: AuditWriter,
    ) -> None:
        self._storage, self._scan, self._index, self._systems = storage, scan, index, systems
        self._auditor, self._audit_writer = auditor, audit_writer

    async def resolve_card(self, body: Any, caller: Caller) -> FhirResponse:
        # Identifying a person is a read of the index that may create the person: any role that may
        # read patients may scan a card (pharmacies and sampling points included).
        require(caller, "Patient", "r")
        params = ParametersIn(body)
        request = ScanRequest(
            code=params.string("code", required=True) or "",
            kind=params.code("kind", KINDS),  # type: ignore[arg-type]  # checked against KINDS
            organization=params.string("organization") or caller.organization,
            step=params.code("step", STEPS) or "registration",  # type: ignore[arg-type]
            name=params.string("name"),
        )
        result = await self._scan.scan(request, actor=caller.client_id)
        return FhirResponse(200, _scan_parameters(result))

    async def ihe_pix(self, query: list[tuple[str, str]], caller: Caller) -> FhirResponse:
        require(caller, "Patient", "r")
        sources = [v for k, v in query if k == "sourceIdentifier"]
        targets = {v for k, v in query if k == "targetSystem"}
        unknown = {k for k, _ in query} - {"sourceIdentifier", "targetSystem", "_format"}
        if unknown or len(sources) != 1:
            raise InvalidSearch("$ihe-pix takes one sourceIdentifier=system|value and optional targetSystem")
        system, sep, value = sources[0].partition("|")
        if not sep or not system or not value:
            raise InvalidSearch("sourceIdentifier must be system|value", expression=("sourceIdentifier",))
        async with self._storage.unit_of_work(read_only=True) as uow:
            link = await uow.identities.find(system, value)
            if link is None:
                raise ResourceNotFound("sourceIdentifier Patient Identifier not found")
            patient = (await uow.resources.read("Patient", link.patient_id)).body
        await self._audit_read(caller, "ihe-pix Patient", link.patient_id)
        out = [
            part("targetIdentifier", valueIdentifier={"system": i["system"], "value": i["value"]})
            for i in patient.get("identifier", [])
            if i.get("system") and i.get("value") and (not targets or i["system"] in targets)
        ]
        out.append(part("targetId", valueReference={"reference": f"Patient/{link.patient_id}"}))
        return FhirResponse(200, parameters(*out))

    async def match(self, body: Any, caller: Caller, base_url: str) -> FhirResponse:
        require(caller, "Patient", "s")
        params = ParametersIn(body)
        resource = validate_resource(
            params.resource("resource", "Patient", required=True), expected_type="Patient"
        )
        only_certain = params.boolean("onlyCertainMatches", False)
        count = params.integer("count", 10)
        try:
            facts = facts_from_patient(resource, self._systems)
        except ValueError as error:
            raise InvalidRequest(f"resource: {error}") from None
        async with self._storage.unit_of_work(read_only=True) as uow:
            candidates = await self._index.match(uow, facts, limit=count)
        if only_certain:
            candidates = [c for c in candidates if c.grade is MatchGrade.CERTAIN]
        for candidate in candidates:
            await self._audit_read(caller, "match Patient", candidate.patient_id)
        entries = [
            {
                "fullUrl": f"{base_url}/Patient/{c.patient_id}",
                "resource": c.patient,
                "search": {
                    "mode": "match",
                    "score": round(c.score, 4),
                    "extension": [{"url": MATCH_GRADE, "valueCode": c.grade.value}],
                },
            }
            for c in candidates
        ]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(entries)}
        if entries:
            bundle["entry"] = entries
        return FhirResponse(200, bundle)

    async def merge(self, body: Any, caller: Caller) -> FhirResponse:
        if ADMIN_SCOPE not in caller.scopes:
            raise InsufficientScope("merging patients is for admin clients")
        params = ParametersIn(body)
        source = params.reference("source", "Patient", required=True) or ""
        target = params.reference("target", "Patient", required=True) or ""
        reason = params.string("reason") or "duplicate"
        async with self._storage.unit_of_work() as uow:
            result = await self._index.merge(uow, source, target, actor=caller.client_id, reason=reason)
        return FhirResponse(
            200, parameters(part("provenance", valueReference={"reference": result.provenance}))
        )

    async def unmerge(self, body: Any, caller: Caller) -> FhirResponse:
        if ADMIN_SCOPE not in caller.scopes:
            raise InsufficientScope("unmerging patients is for admin clients")
        params = ParametersIn(body)
        provenance = params.reference("provenance", "Provenance", required=True) or ""
        reason = params.string("reason") or "unmerge"
        async with self._storage.unit_of_work() as uow:
            result = await self._index.unmerge(
                uow, f"Provenance/{provenance}", actor=caller.client_id, reason=reason
            )
        return FhirResponse(
            200, parameters(part("provenance", valueReference={"reference": result.provenance}))
        )

    async def _audit_read(self, caller: Caller, operation: str, patient_id: str) -> None:
        await self._audit_writer.submit(
            self._auditor.build_for(
                caller,
                action="E",
                operation=operation,
                patient_id=patient_id,
                resource=f"Patient/{patient_id}",
            )
        )


def _scan_parameters(result: ScanResult) -> dict[str, Any]:
    out = [part("patient", resource=result.patient)]
    out += [part("coverage", resource=coverage) for coverage in result.coverages]
    if result.local_identifier:
        out.append(part("localIdentifier", valueIdentifier=result.local_identifier))
    out.append(part("created", valueBoolean=result.created))
    notes = [*result.notes, *(f"{f.kind} on {', '.join(f.fields)}: review {f.review}" for f in result.flags)]
    if notes:
        issues = [{"severity": "information", "code": "informational", "diagnostics": note} for note in notes]
        out.append(part("issues", resource={"resourceType": "OperationOutcome", "issue": issues}))
    return parameters(*out)
