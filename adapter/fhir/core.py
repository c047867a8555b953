"""The FHIR core: request -> response over the storage port. It knows nothing of HTTP frameworks.

Every interaction is checked against the caller's SMART scopes and audited, success and failure:
changes in the same unit of work as the change; reads through the batching AuditWriter, so a read
stays a read-only unit of work (see adapter/security/audit_writer.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from adapter.errors import (
    DualcodeError,
    InsufficientScope,
    InvalidRequest,
    InvalidSearch,
    MethodNotAllowed,
    MultipleMatches,
    UnknownResourceType,
    VersionConflict,
)
from adapter.fhir import bundles
from adapter.fhir.capability import capability_statement
from adapter.fhir.exchange import FhirRequest, FhirResponse
from adapter.fhir.patient_writes import PatientWrites
from adapter.fhir.search_params import criteria_for, index_tokens
from adapter.fhir.support import SUPPORTED, supports
from adapter.fhir.validation import check_id, validate_resource
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.caller import Caller
from adapter.security.scopes import allows
from adapter.storage.ports import Storage, UnitOfWork
from adapter.storage.records import AuditRecord

# SMART v2 permission letter and FHIR AuditEvent action for each interaction.
_READS = frozenset({"read", "vread", "history-instance", "search-type"})
_PERMISSION = {
    "read": ("r", "R"),
    "vread": ("r", "R"),
    "history-instance": ("r", "R"),
    "search-type": ("s", "E"),
    "create": ("c", "C"),
    "update": ("u", "U"),
}
MAX_COUNT = 100
DEFAULT_COUNT = 20

Handler = Callable[[UnitOfWork, FhirRequest, Caller], Awaitable[tuple[FhirResponse, tuple[str, ...]]]]


class FhirCore:
    def __init__(
        self, storage: Storage, auditor: Auditor, audit_writer: AuditWriter, patients: PatientWrites
    ) -> None:
        self._storage = storage
        self._auditor = auditor
        self._audit_writer = audit_writer
        self._patients = patients
        self._published = datetime.now(UTC).isoformat(timespec="seconds")
        self._handlers: dict[str, Handler] = {
            "read": self._read,
            "vread": self._vread,
            "history-instance": self._history,
            "search-type": self._search,
            "create": self._create,
            "update": self._update,
        }

    async def handle(self, request: FhirRequest, caller: Caller) -> FhirResponse:
        if request.interaction == "capabilities":
            return FhirResponse(200, capability_statement(request.base_url, published=self._published))
        resource_type = request.resource_type or ""
        if resource_type not in SUPPORTED:
            raise UnknownResourceType(f"resource type {resource_type!r} is not supported")
        if not supports(resource_type, request.interaction):
            raise MethodNotAllowed(f"{request.interaction} is not supported on {resource_type}")
        if request.resource_id is not None:
            check_id(request.resource_id)
        letter, action = _PERMISSION[request.interaction]
        operation = f"{request.interaction} {resource_type}"
        read_only = request.interaction in _READS
        try:
            if not allows(caller.scopes, resource_type, letter):
                raise InsufficientScope(f"needs system/{resource_type}.{letter}")
            if resource_type == "AuditEvent":
                # Before the unit of work (flushing needs a writer): the answer includes recent reads.
                await self._audit_writer.flush()
            async with self._storage.unit_of_work(read_only=read_only) as uow:
                response, patients = await self._handlers[request.interaction](uow, request, caller)
                records = self._audit_records(caller, action, operation, "0", patients, request)
                if not read_only:
                    for record in records:
                        await uow.audit.record(record)
            if read_only:
                for record in records:
                    await self._audit_writer.submit(record)
            return response
        except DualcodeError as error:
            outcome = "4" if error.http_status < 500 else "8"
            patient = (request.resource_id,) if resource_type == "Patient" and request.resource_id else ()
            for record in self._audit_records(
                caller, action, operation, outcome, patient, request, error.code
            ):
                await self._audit_writer.submit(record)
            raise

    def _audit_records(
        self,
        caller: Caller,
        action: str,
        operation: str,
        outcome: str,
        patients: tuple[str, ...],
        request: FhirRequest,
        error_code: str | None = None,
    ) -> list[AuditRecord]:
        # One record per patient touched, so AuditEvent?patient= finds every access.
        return [
            self._auditor.build_for(
                caller,
                action=action,
                operation=operation,
                outcome=outcome,
                patient_id=patient_id,
                resource=f"Patient/{patient_id}" if patient_id else request.resource_type,
                detail={"error": error_code} if error_code else None,
            )
            for patient_id in patients or (None,)
        ]

    # --- interactions ------------------------------------------------------------------------------

    async def _read(
        self, uow: UnitOfWork, req: FhirRequest, caller: Caller
    ) -> tuple[FhirResponse, tuple[str, ...]]:
        stored = await uow.resources.read(req.resource_type or "", req.resource_id or "")
        headers = bundles.resource_headers(req.base_url, stored)
        return FhirResponse(200, stored.body, headers), _patients_of(stored.body)

    async def _vread(
        self, uow: UnitOfWork, req: FhirRequest, caller: Caller
    ) -> tuple[FhirResponse, tuple[str, ...]]:
        version = _version_number(req.version_id or "")
        stored = await uow.resources.vread(req.resource_type or "", req.resource_id or "", version)
        headers = bundles.resource_headers(req.base_url, stored)
        return FhirResponse(200, stored.body, headers), _patients_of(stored.body)

    async def _history(
        self, uow: UnitOfWork, req: FhirRequest, caller: Caller
    ) -> tuple[FhirResponse, tuple[str, ...]]:
        versions = await uow.resources.history(req.resource_type or "", req.resource_id or "")
        patients = (req.resource_id,) if req.resource_type == "Patient" and req.resource_id else ()
        return FhirResponse(200, bundles.history(req.base_url, versions)), patients

    async def _search(
        self, uow: UnitOfWork, req: FhirRequest, caller: Caller
    ) -> tuple[FhirResponse, tuple[str, ...]]:
        resource_type = req.resource_type or ""
        count, offset = _paging(req.query)
        if resource_type == "AuditEvent":
            return await self._search_audit(uow, req, count)
        criteria = criteria_for(resource_type, list(req.query))
        found = await uow.resources.search(resource_type, criteria, limit=count + 1, offset=offset)
        bodies = [stored.body for stored in found[:count]]
        bundle = bundles.searchset(
            req.base_url,
            resource_type,
            req.query,
            bodies,
            count=count,
            offset=offset,
            has_more=len(found) > count,
        )
        patients = tuple(p for body in bodies for p in _patients_of(body))
        return FhirResponse(200, bundle), patients

    async def _search_audit(
        self, uow: UnitOfWork, req: FhirRequest, count: int
    ) -> tuple[FhirResponse, tuple[str, ...]]:
        patient_id: str | None = None
        for name, value in req.query:
            if name == "patient":
                patient_id = check_id(value.removeprefix("Patient/"))
            elif name not in {"_count", "_format", "_offset"}:
                raise InvalidSearch(
                    f"unsupported search parameter {name!r} on AuditEvent", expression=(name,)
                )
        records = await uow.audit.search(patient_id=patient_id, limit=count)
        bodies = [self._auditor.to_fhir(record) for record in records]
        bundle = bundles.searchset(
            req.base_url, "AuditEvent", req.query, bodies, count=count, offset=0, has_more=False
        )
        return FhirResponse(200, bundle), (patient_id,) if patient_id else ()

    async def _create(
        self, uow: UnitOfWork, req: FhirRequest, caller: Caller
    ) -> tuple[FhirResponse, tuple[str, ...]]:
        body = validate_resource(req.body, expected_type=req.resource_type)
        body.pop("id", None)  # the server assigns ids on create
        body.pop("meta", None)
        condition = []
        if req.if_none_exist:
            query = parse_qsl(req.if_none_exist.removeprefix("?"), keep_blank_values=True)
            condition = criteria_for(req.resource_type or "", query)
            if not condition:
                raise InvalidRequest("If-None-Exist must hold at least one search criterion")
        if req.resource_type == "Patient":
            existing = await uow.resources.search("Patient", condition, limit=2) if condition else []
            if len(existing) > 1:
                raise MultipleMatches()
            if existing:
                stored, created = existing[0], False
            else:
                stored, created = await self._patients.create(uow, body, actor=caller.client_id)
        else:
            stored, created = await uow.resources.create(
                body, tokens=index_tokens(body), if_none_exist=condition
            )
        headers = bundles.resource_headers(req.base_url, stored, location=True)
        return FhirResponse(201 if created else 200, stored.body, headers), _patients_of(stored.body)

    async def _update(
        self, uow: UnitOfWork, req: FhirRequest, caller: Caller
    ) -> tuple[FhirResponse, tuple[str, ...]]:
        body = validate_resource(req.body, expected_type=req.resource_type)
        if body.get("id") != req.resource_id:
            raise InvalidRequest("the resource id must equal the id in the URL", expression=("id",))
        body.pop("meta", None)
        if_match = _if_match_version(req.if_match) if req.if_match else None
        if req.resource_type == "Patient":
            stored, created = await self._patients.update(
                uow, body, if_match=if_match, actor=caller.client_id
            )
        else:
            stored, created = await uow.resources.update(body, tokens=index_tokens(body), if_match=if_match)
        headers = bundles.resource_headers(req.base_url, stored, location=created)
        return FhirResponse(201 if created else 200, stored.body, headers), _patients_of(stored.body)


def _patients_of(body: dict[str, Any]) -> tuple[str, ...]:
    """The patients a resource is about, for the audit trail."""
    if body.get("resourceType") == "Patient":
        return (body["id"],)
    reference = (body.get("beneficiary") or body.get("subject") or body.get("patient") or {}).get(
        "reference", ""
    )
    return (reference.removeprefix("Patient/"),) if reference.startswith("Patient/") else ()


def _version_number(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidRequest("a version id is a positive whole number", expression=("_history",))
    return int(raw)


def _if_match_version(raw: str) -> int:
    tag = raw.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise VersionConflict('If-Match must be W/"<versionId>"')
    return int(tag)


def _paging(query: tuple[tuple[str, str], ...]) -> tuple[int, int]:
    values = dict(query)
    try:
        count = int(values.get("_count", DEFAULT_COUNT))
        offset = int(values.get("_offset", 0))
    except ValueError:
        raise InvalidSearch("_count and _offset are whole numbers") from None
    if count < 0 or offset < 0:
        raise InvalidSearch("_count and _offset must not be negative")
    return min(count, MAX_COUNT), offset
