"""Builds the sampling service of a running process from the settings."""

from __future__ import annotations

from adapter.sampling.service import SamplingService
from adapter.scan import CardScanService
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.settings import Settings
from adapter.storage.ports import Storage


def build_sampling(
    settings: Settings, scan: CardScanService, storage: Storage, auditor: Auditor, audit_writer: AuditWriter
) -> SamplingService:
    return SamplingService(
        storage=storage,
        scan=scan,
        auditor=auditor,
        audit_writer=audit_writer,
        tube_pattern=settings.sampling_tube_pattern,
        round_name=settings.sampling_round,
        # PostgreSQL runs scans' units side by side on pooled connections: one group at a time
        # there was slower than a unit per scan, and saved no CPU (docs/sampling.md, Figures).
        group_binds=not settings.database_url.startswith("postgresql"),
    )
