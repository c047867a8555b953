"""What a sampling point sends and gets back: frozen values, their checks and their JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapter.cards.holder import CardKind
from adapter.errors import InvalidRequest, InvalidTubeBarcode
from adapter.security.masking import mask_name
from adapter.storage.records import SamplingRegistration, SamplingTube

POOL_SIZES = frozenset({5, 10, 20})
KINDS = frozenset({"essc", "ehc", "ssc", "idcard", "nhsa"})
OTHER_TUBE = "registered-in-another-tube"
CLOCK_SKEW = "client-clock-ahead"


@dataclass(frozen=True)
class RegistrationRequest:
    code: str = field(repr=False)
    tube: str
    point: str
    pool_size: int
    kind: CardKind | None = None
    name: str | None = field(default=None, repr=False)  # with kind idcard: the name the person gives
    client_ref: str | None = None  # offline batches: the scan's id on the client
    scanned_at: datetime | None = None  # offline batches: the client's clock


@dataclass(frozen=True)
class Registered:
    registration: SamplingRegistration
    tube: SamplingTube
    created: bool
    flags: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        reg = self.registration
        answer: dict[str, Any] = {
            "registration": reg.id,
            "patient": f"Patient/{reg.patient_id}",
            "tube": reg.tube,
            "position": reg.position,
            "pool_size": self.tube.pool_size,
            "tube_status": self.tube.status,
            "filled": self.tube.filled,
            "name_masked": reg.name_masked,
            "round": reg.round,
            "point": reg.point,
            "created": self.created,
        }
        if reg.client_ref is not None:
            answer["client_ref"] = reg.client_ref
        if self.flags:
            answer["flags"] = list(self.flags)
        return answer


def check_tube(barcode: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(barcode, str) or not pattern.fullmatch(barcode):
        raise InvalidTubeBarcode(f"the tube barcode must match {pattern.pattern}", expression=("tube",))
    return barcode


def check_pool_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in POOL_SIZES:
        raise InvalidRequest("pool_size must be 5, 10 or 20", expression=("pool_size",))
    return value


def text_field(body: dict[str, Any], name: str, *, required: bool = False, limit: int = 4096) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidRequest(f"{name} is required", expression=(name,))
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(f"{name} must be a string of at most {limit} characters", expression=(name,))
    return value


def request_from_json(
    body: object,
    *,
    pattern: re.Pattern[str],
    default_point: str | None,
    client_ref: str | None = None,
    scanned_at: datetime | None = None,
) -> RegistrationRequest:
    """The request a JSON object describes (one registration, or one line of a batch: with its
    ``client_ref`` and ``scanned_at``)."""
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    kind = text_field(body, "kind")
    if kind is not None and kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(sorted(KINDS))}", expression=("kind",))
    point = text_field(body, "point", limit=64) or default_point
    if not point:
        raise InvalidRequest(
            "the sampling point is unknown: send point, or register the client with --organization",
            expression=("point",),
        )
    return RegistrationRequest(
        code=(text_field(body, "code", required=True) or "").strip(),
        tube=check_tube(body.get("tube"), pattern),
        point=point,
        pool_size=check_pool_size(body.get("pool_size")),
        kind=kind,  # type: ignore[arg-type]  # checked against KINDS
        name=text_field(body, "name", limit=64),
        client_ref=client_ref,
        scanned_at=scanned_at,
    )


def masked_name(patient: dict[str, Any]) -> str:
    names = patient.get("name") or []
    if not names:
        return ""
    first = names[0]
    text = first.get("text") or "".join([first.get("family", ""), *first.get("given", [])])
    return mask_name(str(text))


def tube_json(tube: SamplingTube, members: list[SamplingRegistration] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "tube": tube.barcode,
        "round": tube.round,
        "point": tube.point,
        "pool_size": tube.pool_size,
        "filled": tube.filled,
        "status": tube.status,
        "opened_at": tube.opened_at.isoformat(),
        "closed_at": tube.closed_at.isoformat() if tube.closed_at else None,
        "result": tube.result,
    }
    if members is not None:
        answer["members"] = [
            {
                "position": m.position,
                "patient": f"Patient/{m.patient_id}",
                "name_masked": m.name_masked,
                "registered_at": m.registered_at.isoformat(),
            }
            for m in members
        ]
    return answer
