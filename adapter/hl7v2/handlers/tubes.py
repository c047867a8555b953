"""ORU^R01 for a pooled sampling tube: the lab's nucleic-acid result for a tube of the sampling
service (SPM-2 specimen id, or ORC-4 placer group, = the tube's barcode, as our OML^O21 sends it)
is recorded by the sampling service's own ``record_result``: the tube gets its result and a
positive one is announced for the recall (outbox ``sampling.tube-positive``), exactly as when the lab
posts a FHIR DiagnosticReport to /sampling/results. Any other ORU^R01 is a patient's result
(``ResultHandler``).

The result is recorded in the gateway's unit of work, with the message's outcome: the service is
handed a storage whose unit of work is that one (``_InUnit``), so it commits with the message or
not at all. The MLLP sender acts with the sampling scope: a sender that may send ORU^R01 at all
(the sender table and allow-lists decide that) may report a tube's result.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adapter.errors import TubeNotFound
from adapter.hl7v2.handlers.parsed import parsed
from adapter.hl7v2.handlers.results import ResultHandler
from adapter.hl7v2.router import HandlerResult, MessageContext
from adapter.sampling.lab import result_from_oru
from adapter.sampling.results import record_result
from adapter.sampling.service import SamplingService
from adapter.scan import ScanRequest, ScanResult
from adapter.security.audit import Auditor
from adapter.security.audit_writer import AuditWriter
from adapter.security.caller import Caller
from adapter.security.scopes import SAMPLING_SCOPE
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import AuditRecord
from mappings.hl7v2 import Message

_CURRENT: contextvars.ContextVar[UnitOfWork] = contextvars.ContextVar("dualcode_hl7_unit_of_work")


class TubeResultHandler:
    """The ``oru-results`` binding: a tube's result to the sampling service, else ``patient``."""

    def __init__(self, patient: ResultHandler, *, auditor: Auditor, tube_pattern: str) -> None:
        self._patient = patient
        self._pattern = re.compile(tube_pattern)
        in_unit = _InUnit()
        self._service = SamplingService(
            storage=in_unit,
            scan=_NoScan(),
            auditor=auditor,
            audit_writer=AuditWriter(in_unit),  # never started: recording a result writes in the unit
            tube_pattern=tube_pattern,
        )

    async def __call__(self, context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        barcode = self._tube_of(parsed(context))
        if barcode is None:
            return await self._patient(context, uow)
        if await uow.sampling.get_tube(barcode) is None:
            if _has_patient(parsed(context)):
                return await self._patient(context, uow)  # a hospital specimen id that looks like a tube
            raise TubeNotFound(f"no tube {barcode}", hl7_location="SPM-2")
        barcode, result = result_from_oru(context.text)
        caller = Caller(
            client_id=f"mllp:{context.sender}",
            scopes=frozenset({SAMPLING_SCOPE}),
            source_ip=context.peer.host if context.peer else None,
            request_id=context.message_id,
        )
        token = _CURRENT.set(uow)
        try:
            await record_result(self._service, barcode, result, caller)
        finally:
            _CURRENT.reset(token)
        return HandlerResult()

    def _tube_of(self, message: Message) -> str | None:
        """SPM-2.1 (else ORC-4.1), when it has the form of a tube barcode."""
        candidate = ""
        if message.find("SPM") is not None:
            candidate = message.get("SPM-2.1")
        if not candidate and message.find("ORC") is not None:
            candidate = message.get("ORC-4.1")
        return candidate if candidate and self._pattern.fullmatch(candidate) else None


def _has_patient(message: Message) -> bool:
    pid = message.find("PID")
    return pid is not None and bool(pid.field(3).repetition().component(1))


class _InUnit:
    """A Storage whose every unit of work is the gateway's current one: no commit of its own."""

    @asynccontextmanager
    async def unit_of_work(
        self, *, read_only: bool = False, grouped: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        try:
            uow = _CURRENT.get()
        except LookupError:
            raise RuntimeError("no HL7 unit of work is open") from None
        yield uow

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class _NoScan:
    """Recording a result identifies nobody."""

    async def verify(self, request: ScanRequest) -> Any:
        raise RuntimeError("an HL7 result does not scan cards")

    async def resolve_verified(
        self, uow: UnitOfWork, verified: Any, *, actor: str, deferred_audit: list[AuditRecord] | None = None
    ) -> ScanResult:
        raise RuntimeError("an HL7 result does not scan cards")
