"""The FHIR routes check content negotiation, then the bearer token, in that order, on every route
(the checks are awaited in each route, not FastAPI dependencies: a route that forgot one shows here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.app import create_app
from tests.integration.test_http_app import running, settings_for

XML = {"Accept": "application/fhir+xml"}
AUTHED = [
    ("GET", "/fhir/Patient"),
    ("POST", "/fhir/Patient"),
    ("GET", "/fhir/Patient/p1"),
    ("PUT", "/fhir/Patient/p1"),
    ("GET", "/fhir/Patient/p1/_history"),
    ("GET", "/fhir/Patient/p1/_history/1"),
    ("POST", "/fhir/Patient/$resolve-card"),
    ("GET", "/fhir/Patient/$ihe-pix"),
    ("POST", "/fhir/Patient/$match"),
    ("POST", "/fhir/Patient/$merge"),
    ("POST", "/fhir/Patient/$unmerge"),
]
PUBLIC = [
    ("GET", "/fhir/metadata"),
    ("GET", "/fhir/OperationDefinition/nowhere"),
    ("DELETE", "/fhir/Patient/p1"),
]


def code(answer: object) -> str:
    body = answer.json()  # type: ignore[attr-defined]
    coding = body["issue"][0]["details"]["coding"]
    return str(next(c["code"] for c in coding if c["code"].startswith("DC-")))


@pytest.mark.parametrize(("method", "path"), AUTHED + PUBLIC)
async def test_unacceptable_accept_is_406_before_anything_else(
    tmp_path: Path, method: str, path: str
) -> None:
    async with running(create_app(settings_for(tmp_path))) as client:
        answer = await client.request(method, path, headers=XML)
        assert answer.status_code == 406 and code(answer) == "DC-1008"
        answer = await client.request(method, path, params={"_format": "xml"})
        assert answer.status_code == 406 and code(answer) == "DC-1008"


@pytest.mark.parametrize(("method", "path"), AUTHED)
async def test_then_the_token_is_required(tmp_path: Path, method: str, path: str) -> None:
    async with running(create_app(settings_for(tmp_path))) as client:
        missing = await client.request(method, path)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith('Bearer realm="dualcode"')
        forged = await client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
        assert forged.status_code == 401 and missing.headers["X-Request-ID"]
