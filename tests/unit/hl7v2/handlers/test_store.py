"""How a message's mapped resources are written: placeholders replaced in a copy, the mapping untouched."""

from __future__ import annotations

import copy
from typing import Any

from adapter.hl7v2.handlers.store import _resolved

REFS = {"urn:uuid:p": "Patient/1", "urn:uuid:e": "Encounter/2"}


def _by_deepcopy(body: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """What the writer did before: deepcopy, then replace every placeholder reference."""
    out = copy.deepcopy(body)
    stack: list[Any] = [out]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str) and item["reference"] in refs:
                item["reference"] = refs[item["reference"]]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def test_references_are_replaced_at_every_depth_in_a_copy() -> None:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "subject": {"reference": "urn:uuid:p", "display": "张*"},
        "encounter": {"reference": "urn:uuid:e"},
        "performer": [{"reference": "Practitioner/9"}, {"reference": "urn:uuid:unknown"}],
        "component": [{"extension": [{"valueReference": {"reference": "urn:uuid:p"}}]}],
        "valueQuantity": {"value": 1.5, "unit": "mmol/L"},
        "note": [{"text": "urn:uuid:p"}],  # text, not a reference: kept
        "issued": None,
        "flag": True,
    }
    before = copy.deepcopy(body)
    out = _resolved(body, REFS)
    assert out == _by_deepcopy(body, REFS)
    assert out["subject"] == {"reference": "Patient/1", "display": "张*"}
    assert out["component"][0]["extension"][0]["valueReference"] == {"reference": "Patient/1"}
    assert out["performer"] == [{"reference": "Practitioner/9"}, {"reference": "urn:uuid:unknown"}]
    assert body == before  # the mapping's own dicts are not changed
    out["valueQuantity"]["value"] = 2
    out["performer"].append({})
    assert body == before  # and share nothing mutable with the copy
