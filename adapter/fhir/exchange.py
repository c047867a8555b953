"""The framework-free request and response of the FHIR core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FhirRequest:
    interaction: str  # capabilities | read | vread | search-type | history-instance | create | update
    base_url: str  # e.g. http://127.0.0.1:8080/fhir (no trailing slash)
    resource_type: str | None = None
    resource_id: str | None = None
    version_id: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    if_match: str | None = None
    if_none_exist: str | None = None


@dataclass(frozen=True, slots=True)
class FhirResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
