"""The message store API: list, read and reprocess stored HL7 messages (roles admin or his).

Text is masked unless the caller is admin. Every access is audited, failures included (one record
per patient touched). Errors are raised as adapter.errors classes
and rendered by the app as OperationOutcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from adapter.errors import (
    DualcodeError,
    InsufficientScope,
    InvalidRequest,
    ServiceUnavailable,
    UnparseableMessage,
)
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.view import message_view
from adapter.http.auth import authenticate
from adapter.security.caller import Caller
from adapter.services import Services, services_of
from adapter.storage.records import StoredMessage

router = APIRouter(prefix="/api/messages", tags=["hl7 messages"])
AuthedCaller = Annotated[Caller, Depends(authenticate)]
READ_ROLES = frozenset({"admin", "his"})
REPROCESSABLE = frozenset({"error", "rejected"})
MAX_LIMIT = 500


def require_message_access(caller: Caller) -> None:
    """The message store is for integration staff: the admin or his role."""
    if not caller.roles & READ_ROLES:
        raise InsufficientScope("the message store needs the admin or his role")


def _gateway(services: Services) -> Gateway:
    if services.hl7 is None:
        raise ServiceUnavailable("the HL7 gateway is not running")
    return services.hl7


def _view(gateway: Gateway, message: StoredMessage, caller: Caller) -> dict[str, Any]:
    try:
        codec = gateway.read(message.raw)[0].text_codec
    except UnparseableMessage:
        codec = gateway.senders.default_codec
    return message_view(message, codec, unmasked=caller.is_admin)


async def _audit(
    services: Services,
    caller: Caller,
    operation: str,
    messages: list[StoredMessage],
    error: str | None = None,
) -> None:
    # Reads change nothing: their records go through the batched audit writer (as FHIR reads do).
    # A reprocess's own effects are audited by the gateway in the unit of work that makes them.
    patients: list[str | None] = [*sorted({m.patient_id for m in messages if m.patient_id})] or [None]
    for patient_id in patients:
        record = services.auditor.build_for(
            caller,
            action="E" if operation.startswith("reprocess") else "R",
            operation=operation,
            outcome="4" if error else "0",
            patient_id=patient_id,
            resource="HL7Message" if len(messages) != 1 else f"HL7Message/{messages[0].id}",
            detail={"error": error} if error else {"count": str(len(messages))},
        )
        await services.audit_writer.submit(record)


@router.get("")
async def list_messages(
    request: Request,
    caller: AuthedCaller,
    sender: str | None = None,
    type: str | None = None,
    status: str | None = None,
    patient: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    services = services_of(request)
    try:
        require_message_access(caller)
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise InvalidRequest(f"{name} needs a timezone (e.g. 2026-11-29T08:00:00+08:00)")
        gateway = _gateway(services)
        async with services.storage.unit_of_work(read_only=True) as uow:
            found = await uow.messages.list(
                sender=sender,
                message_type=type,
                status=status,
                patient_id=patient,
                since=since,
                until=until,
                limit=limit,
            )
    except DualcodeError as exc:
        await _audit(services, caller, "search hl7-message", [], exc.code)
        raise
    await _audit(services, caller, "search hl7-message", found)
    return {"count": len(found), "messages": [_view(gateway, m, caller) for m in found]}


@router.get("/{message_id}")
async def read_message(request: Request, message_id: str, caller: AuthedCaller) -> dict[str, Any]:
    services = services_of(request)
    try:
        require_message_access(caller)
        gateway = _gateway(services)
        async with services.storage.unit_of_work(read_only=True) as uow:
            message = await uow.messages.get(message_id)
    except DualcodeError as exc:
        await _audit(services, caller, "read hl7-message", [], exc.code)
        raise
    await _audit(services, caller, "read hl7-message", [message])
    return _view(gateway, message, caller)


@router.post("/{message_id}/reprocess")
async def reprocess_message(
    request: Request, message_id: str, caller: AuthedCaller, force: bool = False
) -> dict[str, Any]:
    services = services_of(request)
    try:
        require_message_access(caller)
        if force and not caller.is_admin:
            raise InsufficientScope("only an admin may force reprocessing")
        gateway = _gateway(services)
        async with services.storage.unit_of_work() as uow:
            before = await uow.messages.get(message_id)
        if before.status not in REPROCESSABLE and not force:
            raise InvalidRequest(
                f"a {before.status} message is not reprocessed, only error or rejected ones "
                "(an admin may add force=true)"
            )
        after = await gateway.reprocess(message_id)
    except DualcodeError as exc:
        await _audit(services, caller, "reprocess hl7-message", [], exc.code)
        raise
    await _audit(services, caller, "reprocess hl7-message", [after])
    return _view(gateway, after, caller)
