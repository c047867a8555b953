"""The lab side: closed tubes to collect, results coming back, and the people to recall when a pooled
tube is positive (with phone numbers, for the call centre: every listed person is audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapter.errors import InvalidRequest, ResourceGone, ResourceNotFound, TubeNotClosed, TubeNotFound
from adapter.sampling.lab import POSITIVE
from adapter.sampling.service import SamplingService, require_sampling, uow_now
from adapter.sampling.values import tube_json
from adapter.security.caller import Caller
from adapter.security.masking import mask_name
from adapter.storage.records import SamplingTube

MAX_TUBES = 1000
STATUSES = frozenset({"open", "full", "closed"})


async def list_tubes(
    service: SamplingService,
    caller: Caller,
    *,
    status: str | None,
    since: str | None,
    round_name: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    require_sampling(caller)
    if status is not None and status not in STATUSES:
        raise InvalidRequest("status must be open, full or closed", expression=("status",))
    closed_since = None
    if since is not None:
        try:
            closed_since = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest("since must be an ISO 8601 time", expression=("since",)) from None
        if closed_since.tzinfo is None:
            raise InvalidRequest("since must carry its time zone", expression=("since",))
    async with service.storage.unit_of_work(read_only=True) as uow:
        tubes = await uow.sampling.list_tubes(
            status=status, round=round_name, closed_since=closed_since, limit=max(1, min(limit, MAX_TUBES))
        )
    return [tube_json(tube) for tube in tubes]


async def record_result(service: SamplingService, barcode: str, result: str, caller: Caller) -> SamplingTube:
    """A positive tube is announced (outbox topic sampling.tube-positive) for the recall."""
    require_sampling(caller)
    async with service.storage.unit_of_work() as uow:
        tube = await uow.sampling.lock_tube(barcode)
        if tube is None:
            raise TubeNotFound(f"no tube {barcode}")
        if tube.status != "closed":
            raise TubeNotClosed(f"tube {barcode} is {tube.status}; close it before recording a result")
        if tube.result == result:
            return tube
        tube = await uow.sampling.set_result(barcode, result, at=uow_now())
        if result == POSITIVE:
            members = await uow.sampling.members(barcode)
            await uow.outbox.add(
                topic="sampling.tube-positive",
                destination="*",
                ordering_key=f"tube/{barcode}",
                payload={
                    "tube": barcode,
                    "round": tube.round,
                    "patients": [f"Patient/{m.patient_id}" for m in members],
                },
            )
        await service.auditor.record_for(
            uow,
            caller,
            action="U",
            operation="sampling record-result",
            detail={"tube": barcode, "result": result},
        )
    return tube


def _phone(patient: dict[str, Any]) -> str | None:
    for telecom in patient.get("telecom") or []:
        if telecom.get("system") == "phone" and telecom.get("value"):
            return str(telecom["value"])
    return None


def _name(patient: dict[str, Any]) -> str:
    names = patient.get("name") or [{}]
    text = names[0].get("text") or "".join([names[0].get("family", ""), *names[0].get("given", [])])
    return mask_name(str(text))


async def recalls(service: SamplingService, round_name: str, caller: Caller) -> dict[str, Any]:
    """Every member of every positive tube of the round, with the phone to call."""
    require_sampling(caller)
    tubes_out: list[dict[str, Any]] = []
    async with service.storage.unit_of_work(read_only=True) as uow:
        tubes = await uow.sampling.list_tubes(round=round_name, result=POSITIVE, limit=100_000)
        for tube in tubes:
            people = []
            for member in await uow.sampling.members(tube.barcode):
                try:
                    patient = (await uow.resources.read("Patient", member.patient_id)).body
                except (ResourceNotFound, ResourceGone):  # merged away since: still to be called
                    patient = {}
                people.append(
                    {
                        "position": member.position,
                        "patient": f"Patient/{member.patient_id}",
                        "name_masked": _name(patient),
                        "phone": _phone(patient),
                    }
                )
            tubes_out.append({**tube_json(tube), "members": people})
    for tube_out in tubes_out:
        for person in tube_out["members"]:
            await service.audit_writer.submit(
                service.auditor.build_for(
                    caller,
                    action="R",
                    operation="sampling recall",
                    patient_id=person["patient"].removeprefix("Patient/"),
                    detail={"tube": tube_out["tube"], "round": round_name},
                )
            )
    count = sum(len(t["members"]) for t in tubes_out)
    return {"round": round_name, "tubes": tubes_out, "people": count}
