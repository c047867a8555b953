"""The intermediate table's inbound side: rows a HIS writes for us become changes in the patient index.

A ``sql_table`` destination with ``inbound_table`` is read in id order. Each row is one person as that
hospital knows them:

    kind      "patient" | "patient.created" | "patient.updated"
    document  {"patientNumber": "<the HIS's own number>", "patient": {a FHIR Patient}}

and goes through ``PatientIndex.resolve`` (source ``his:<hospital>``) with the patient number as that
hospital's identifier (``urn:dualcode:hospital:<code>:patient-number``): the same person a card scan or
an ADT resolves to, registered on first sight, updated and linked after, each change with its outbox
event. The number may also come as an identifier of the Patient in that system.

Exactly once in effect: a row is recorded in the message store (sender ``table:<destination>``,
control id = the row id) in the unit of work that applies it, so a row read twice (a crash before the
cursor moved, two readers) is applied once, and the cursor resumes from the highest recorded row
after a restart. A row that cannot be applied is recorded with status ``error`` and its reason
(visible with the messages, never dropped silently) and reading goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from adapter.errors import DualcodeError, ServiceUnavailable
from adapter.mpi import PatientIndex
from adapter.storage.ports import Storage, UnitOfWork
from his_connectors import Destination
from his_connectors.sql_table import InboundRow
from mappings.codes import IdentifierKey
from mappings.person import FactIdentifier, facts_from_patient

log = logging.getLogger("dualcode.outbox.inbound")
KINDS = frozenset({"patient", "patient.created", "patient.updated"})


class InboundSource(Protocol):
    async def read_inbound(self, *, after: int = 0, limit: int = 100) -> list[InboundRow]: ...


class InboundError(ValueError):
    """The row cannot be applied (recorded as an error, never retried by itself)."""


def sender_of(destination: Destination) -> str:
    return f"table:{destination.code}"


async def read_cursor(storage: Storage, destination: Destination) -> int:
    """The highest row id recorded for this destination (0: none yet)."""
    async with storage.unit_of_work(read_only=True) as uow:
        latest = await uow.messages.list(sender=sender_of(destination), limit=1)
    return max((int(m.control_id) for m in latest if m.control_id.isdigit()), default=0)


async def apply_rows(
    storage: Storage,
    index: PatientIndex,
    destination: Destination,
    rows: Sequence[InboundRow],
) -> int:
    """Apply ``rows`` (id order), each in its own unit of work; returns the highest id handled."""
    cursor = 0
    for row in rows:
        try:
            async with storage.unit_of_work() as uow:
                await _apply(uow, index, destination, row)
        except ServiceUnavailable:
            raise  # busy, not wrong: the row is read again next round
        except (InboundError, DualcodeError, ValueError) as error:
            reason = f"{getattr(error, 'code', 'DC-INBOUND')}: {error}"[:300]
            log.warning("inbound row %s of %s not applied: %s", row.id, destination.code, reason)
            async with storage.unit_of_work() as uow:
                sender = sender_of(destination)
                stored, created = await uow.messages.add(
                    sender=sender, control_id=str(row.id), raw=_raw(row), message_type=row.kind
                )
                if created or stored.status == "received":
                    await uow.messages.set_outcome(stored.id, status="error", ack=None, error=reason)
        cursor = row.id
    return cursor


async def _apply(uow: UnitOfWork, index: PatientIndex, destination: Destination, row: InboundRow) -> None:
    stored, created = await uow.messages.add(
        sender=sender_of(destination), control_id=str(row.id), raw=_raw(row), message_type=row.kind
    )
    if not created and stored.status != "received":
        return  # applied (or refused) before: once in effect
    if row.kind not in KINDS:
        raise InboundError(f"unknown kind {row.kind!r}; known: {', '.join(sorted(KINDS))}")
    patient = row.document.get("patient")
    if not isinstance(patient, dict) or patient.get("resourceType", "Patient") != "Patient":
        raise InboundError("the document carries no FHIR Patient under 'patient'")
    systems = index.systems
    system = systems.hospital_patient_number(destination.hospital)
    number = _number(row.document, patient, system)
    facts = facts_from_patient(patient, systems, source=f"his:{destination.hospital}")
    own = FactIdentifier(IdentifierKey.HOSPITAL_PATIENT_NUMBER, system, number)
    facts = replace(facts, identifiers=(*(i for i in facts.identifiers if i.system != system), own))
    resolution = await index.resolve(uow, facts, actor=f"his-table:{destination.code}")
    await uow.messages.set_outcome(
        stored.id,
        status="processed",
        ack=None,
        patient_id=resolution.patient_id,
        resources=(f"Patient/{resolution.patient_id}/_history/{resolution.version_id}",),
    )


def _number(document: Mapping[str, Any], patient: Mapping[str, Any], system: str) -> str:
    number = document.get("patientNumber")
    if number is None:
        number = next(
            (i.get("value") for i in patient.get("identifier", []) if i.get("system") == system), None
        )
    if not isinstance(number, str | int) or not str(number).strip():
        raise InboundError("the row names no HIS patient number (patientNumber)")
    return str(number).strip()


def _raw(row: InboundRow) -> bytes:
    return json.dumps({"kind": row.kind, "document": row.document}, ensure_ascii=False).encode()


class InboundReader:
    """Polls every inbound table of the destinations; ``run_once`` reads and applies one page each."""

    def __init__(
        self,
        storage: Storage,
        sources: Mapping[str, tuple[Destination, InboundSource]],
        *,
        index: PatientIndex | None = None,
        page: int = 100,
    ) -> None:
        self.storage = storage
        self.index = index or PatientIndex()
        self._sources = dict(sources)
        self._cursors: dict[str, int] = {}
        self._page = page

    async def run_once(self) -> int:
        """Rows handled in this round (all destinations)."""
        handled = 0
        for code, (destination, source) in self._sources.items():
            if code not in self._cursors:
                self._cursors[code] = await read_cursor(self.storage, destination)
            rows = await source.read_inbound(after=self._cursors[code], limit=self._page)
            if rows:
                self._cursors[code] = max(self._cursors[code], await apply_rows(
                    self.storage, self.index, destination, rows
                ))  # fmt: skip
                handled += len(rows)
        return handled
