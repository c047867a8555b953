"""Check what the service emits against plain FHIR R4 (4.0.1): fhirclient's R4 models, strict mode."""

from __future__ import annotations

from typing import Any

from fhirclient.models.fhirelementfactory import FHIRElementFactory


def assert_valid_r4(resource: dict[str, Any]) -> None:
    """Raises (fhirclient FHIRValidationError) when the JSON is not valid R4; recurses into Bundles."""
    FHIRElementFactory.instantiate(resource["resourceType"], resource).as_json()
