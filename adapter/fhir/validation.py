"""Validate resource bodies against FHIR R4.

We use ``fhir.resources``' R4B models, never its default R5 classes: R5 refuses ordinary R4 Coverage,
Encounter and MedicationRequest, while R4B is wire-compatible with R4 for every type we serve.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from adapter.errors import InvalidId, InvalidResource, UnknownResourceType

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_VALUE_TYPES = {"value_error", "string_type", "missing", "extra_forbidden"}


def check_id(resource_id: str) -> str:
    if not _ID.fullmatch(resource_id):
        raise InvalidId()
    return resource_id


def _element_path(resource_type: str, loc: tuple[int | str, ...]) -> str:
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validate_resource(body: Any, *, expected_type: str | None = None) -> dict[str, Any]:
    """Return the body as canonical JSON (what R4B serialises) or raise InvalidResource naming the element."""
    if not isinstance(body, dict):
        raise InvalidResource("the body must be a JSON object holding one FHIR resource")
    resource_type = body.get("resourceType")
    if not isinstance(resource_type, str):
        raise InvalidResource("resourceType is missing", expression=("resourceType",))
    if expected_type is not None and resource_type != expected_type:
        raise InvalidResource(
            f"resourceType {resource_type!r} does not match the endpoint ({expected_type})",
            expression=("resourceType",),
        )
    if not resource_type.isalpha():
        raise UnknownResourceType("resourceType must be a FHIR type name")
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        raise UnknownResourceType(f"unknown resource type {resource_type!r}") from None
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _element_path(resource_type, tuple(first["loc"]))
        # pydantic's message names the rule, never the value: no personal data reaches the client.
        reason = first["msg"] if first["type"] in _VALUE_TYPES else first["type"]
        raise InvalidResource(f"{path}: {reason}", expression=(path,)) from None
    dumped: dict[str, Any] = parsed.model_dump(mode="json", exclude_none=True)
    return dumped
