"""The outbox API (admin role): list events by status, retry a dead letter.

    GET  /api/outbox?status=dead&destination=H0001:adt&limit=100
    POST /api/outbox/{id}/retry

Views never carry the payload (it may hold identifiers): the patient reference, topic, destination,
status, attempts and the last error are what an operator needs. A retry is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from adapter.errors import InsufficientScope, InvalidRequest, VersionConflict
from adapter.http.auth import authenticate
from adapter.security.caller import Caller
from adapter.services import services_of
from adapter.storage.records import OutboxEvent

router = APIRouter(prefix="/api/outbox", tags=["outbox"])
AuthedCaller = Annotated[Caller, Depends(authenticate)]
STATUSES = ("pending", "delivering", "delivered", "dead")


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise InsufficientScope("the outbox needs the admin role")


def event_view(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "seq": event.seq,
        "topic": event.topic,
        "destination": event.destination,
        "orderingKey": event.ordering_key,
        "status": event.status,
        "attempts": event.attempts,
        "createdAt": event.created_at.isoformat(),
        "nextAttemptAt": event.next_attempt_at.isoformat() if event.next_attempt_at else None,
        "lastError": event.last_error,
    }


@router.get("")
async def list_events(
    request: Request,
    caller: AuthedCaller,
    status: str | None = None,
    destination: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    _require_admin(caller)
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    async with services_of(request).storage.unit_of_work(read_only=True) as uow:
        events = await uow.outbox.list(status=status, destination=destination, limit=limit)
        counts = await uow.outbox.counts()
    return {"counts": counts, "events": [event_view(e) for e in events]}


@router.post("/{event_id}/retry")
async def retry_event(event_id: str, request: Request, caller: AuthedCaller) -> dict[str, Any]:
    _require_admin(caller)
    services = services_of(request)
    async with services.storage.unit_of_work() as uow:
        try:
            event = await uow.outbox.retry(event_id)
        except VersionConflict:
            raise InvalidRequest("only a dead outbox event can be retried") from None
        kind, _, patient = event.ordering_key.partition("/")
        await services.auditor.record_for(
            uow,
            caller,
            action="E",
            operation="retry outbox event",
            patient_id=patient if kind == "Patient" else None,
            resource=f"OutboxEvent/{event.id}",
            detail={"destination": event.destination},
        )
    if services.outbox is not None:
        services.outbox.wake()
    return event_view(event)
