"""The CapabilityStatement, rendered from the support table."""

from __future__ import annotations

from typing import Any

from adapter.fhir.operation_definitions import DEFINITIONS
from adapter.fhir.support import SUPPORTED

SOFTWARE_VERSION = "0.1.0"

_INTERACTION_ORDER = ["read", "vread", "update", "create", "search-type", "history-instance"]


def capability_statement(base_url: str, *, published: str) -> dict[str, Any]:
    resources = []
    for support in SUPPORTED.values():
        entry: dict[str, Any] = {
            "type": support.resource_type,
            "interaction": [{"code": code} for code in _INTERACTION_ORDER if code in support.interactions],
        }
        if support.documentation:
            entry["documentation"] = support.documentation
        if "vread" in support.interactions:
            entry["versioning"] = "versioned-update"
            entry["readHistory"] = True
            entry["updateCreate"] = "update" in support.interactions
        if support.conditional_create:
            entry["conditionalCreate"] = True
        if support.search_params:
            entry["searchParam"] = [
                {"name": p.name, "type": p.type, "documentation": p.documentation}
                for p in support.search_params
            ]
        if support.operations:
            entry["operation"] = [
                {"name": name, "definition": DEFINITIONS[name]["url"]} for name in support.operations
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published,
        "publisher": "dualcode",
        "kind": "instance",
        "software": {"name": "dualcode", "version": SOFTWARE_VERSION},
        "implementation": {"description": "dualcode FHIR R4 API", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth 2.0 client credentials at /oauth/token; SMART v2 system scopes",
                },
                "resource": resources,
            }
        ],
    }
