"""Builds the FHIR side of a running service: the core, the Patient operations and what they use
(card platform clients, the patient index, the coverage keeper)."""

from __future__ import annotations

from dataclasses import dataclass

from adapter.cache.ports import Cache
from adapter.cards.config import card_platform_config
from adapter.cards.platforms import CardPlatforms
from adapter.fhir.core import FhirCore
from adapter.fhir.patient_operations import PatientOperations
from adapter.fhir.patient_writes import PatientWrites
from adapter.mpi import PatientIndex
from adapter.scan import CardScanService
from adapter.scan.coverage import CoverageKeeper
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.settings import Settings
from adapter.storage.ports import Storage
from mappings.codes import default_identifier_systems


@dataclass(frozen=True)
class FhirParts:
    core: FhirCore
    operations: PatientOperations
    platforms: CardPlatforms  # owns HTTP connections: aclose() at shutdown
    scan: CardScanService  # any card or code to one Patient (also used by sampling points)


def build_fhir(
    settings: Settings, *, storage: Storage, cache: Cache, auditor: Auditor, audit_writer: AuditWriter
) -> FhirParts:
    systems = default_identifier_systems()
    index = PatientIndex(systems=systems, auditor=auditor)
    platforms = CardPlatforms.from_config(card_platform_config(settings))
    coverage = CoverageKeeper(platforms.nhsa, cache, systems, refresh_s=settings.coverage_refresh_s)
    scan = CardScanService(
        storage=storage,
        platforms=platforms,
        index=index,
        coverage=coverage,
        systems=systems,
        audit_writer=audit_writer,
        default_organization=settings.cards_hospital_code,
        remembered=settings.scan_remembered_people,
    )
    operations = PatientOperations(
        storage=storage, scan=scan, index=index, systems=systems, auditor=auditor, audit_writer=audit_writer
    )
    core = FhirCore(storage, auditor, audit_writer, PatientWrites(index, systems))
    return FhirParts(core=core, operations=operations, platforms=platforms, scan=scan)
