"""The long-lived collaborators of one running service, opened and closed by the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from adapter.cache.ports import Cache
from adapter.fhir.core import FhirCore
from adapter.fhir.patient_operations import PatientOperations
from adapter.http.metrics import HttpMetrics
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.clients import ClientRegistry
from adapter.security.tokens import TokenService
from adapter.settings import Settings
from adapter.storage.ports import Storage

if TYPE_CHECKING:
    from adapter.hl7v2.gateway import Gateway
    from adapter.hl7v2.server import MllpServer
    from adapter.outbox.dispatcher import Dispatcher
    from adapter.sampling import SamplingService


@dataclass(frozen=True)
class Services:
    settings: Settings
    storage: Storage
    cache: Cache
    tokens: TokenService
    clients: ClientRegistry
    auditor: Auditor
    audit_writer: AuditWriter
    fhir: FhirCore
    patient_operations: PatientOperations
    metrics: HttpMetrics
    mllp: MllpServer | None = None
    hl7: Gateway | None = None  # the HL7 pipeline (also used by the message API when MLLP is off)
    outbox: Dispatcher | None = None  # delivers outbox events to hospitals (None: no destinations file)
    sampling: SamplingService | None = None  # sampling points (adapter.sampling)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
