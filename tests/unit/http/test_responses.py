"""fhir_response encodes with orjson: the same bytes json.dumps gave, and json's reach kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapter.http.responses import FHIR_JSON, fhir_response


def json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient", "name": [{"text": "张三", "given": ["三"]}], "active": True},
        {"resourceType": "Bundle", "total": 0, "entry": [], "link": [{"url": 'http://h/fhir?a=b|c&d="e"'}]},
        {
            "resourceType": "Observation",
            "valueQuantity": {"value": 37.5},
            "note": [{"text": "a\u2028b\x00\ud7ff"}],
        },
        {"nested": {"deep": [1, -2, 2**63 - 1, None, 0.1, 123456.789]}},
    ],
)
def test_the_same_bytes_as_before(body: dict[str, Any]) -> None:
    response = fhir_response(200, body)
    assert response.body == json_bytes(body)
    assert response.headers["content-type"] == f"{FHIR_JSON}; charset=utf-8"


def test_exponents_are_written_differently_but_mean_the_same() -> None:
    body = {"valueQuantity": {"value": 1.5e-7}, "big": 1e16}
    response = fhir_response(200, body)
    assert response.body == b'{"valueQuantity":{"value":1.5e-7},"big":1e+16}'  # json: 1.5e-07
    assert json.loads(response.body) == body


def test_what_orjson_refuses_is_still_answered() -> None:
    body = {"resourceType": "Basic", "extension": [{"valueInteger64": 2**70}], "n": {1: "int key"}}
    response = fhir_response(201, body, {"ETag": 'W/"1"'})
    assert response.status_code == 201 and response.headers["etag"] == 'W/"1"'
    assert response.body == json_bytes(body)
