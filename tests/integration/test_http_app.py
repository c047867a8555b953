"""The app in-process (real lifespan, in-memory storage): the catch-all, request ids, readiness,
metrics and the JSON log lines."""

from __future__ import annotations

import gc
import io
import json
import logging
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapter.app import create_app
from adapter.http.middleware import ServiceMiddleware
from adapter.security.logging import configure_logging
from adapter.security.scopes import SAMPLING_SCOPE
from adapter.settings import Settings
from tests.e2e.harness import free_port


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        database_url="memory://",
        mllp_enabled=False,
        data_keys_file=tmp_path / "keys" / "data.json",
        blind_index_key_file=tmp_path / "keys" / "blind.key",
        token_signing_key_file=tmp_path / "keys" / "token.key",
        **overrides,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The real lifespan around an in-process client (no sockets: these tests are about the app)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()


async def test_an_unexpected_exception_is_a_500_outcome_with_only_the_request_id(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    app = create_app(settings_for(tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail 11010519491231002X")

    async with running(app) as client:
        answer = await client.get("/boom", headers={"X-Request-ID": "req-abcdef12"})
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/fhir+json")
    assert answer.headers["X-Request-ID"] == "req-abcdef12"
    body = answer.json()
    assert body["issue"][0]["details"]["coding"][0]["code"] == "DC-9000"
    assert "req-abcdef12" in body["issue"][0]["diagnostics"]
    assert "secret internal detail" not in answer.text
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    failure = next(line for line in lines if line["msg"] == "unhandled error")
    assert failure["request_id"] == "req-abcdef12"
    assert "11010519491231002X" not in log_stream.getvalue()  # masked even inside a traceback


async def test_a_generated_request_id_is_returned(tmp_path: Path) -> None:
    async with running(create_app(settings_for(tmp_path))) as client:
        answer = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert answer.headers["X-Request-ID"] != "bad id with spaces"
    assert len(answer.headers["X-Request-ID"]) == 32


async def test_readiness_fails_when_the_cache_does_not_answer(tmp_path: Path) -> None:
    closed_port = free_port()  # nothing listens there
    settings = settings_for(tmp_path, redis_url=f"redis://127.0.0.1:{closed_port}/0")
    async with running(create_app(settings)) as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "ok", "cache": "DC-9001"}


async def test_metrics_count_requests_by_route_template(tmp_path: Path) -> None:
    async with running(create_app(settings_for(tmp_path))) as client:
        await client.get("/fhir/Patient/abc")
        await client.get("/fhir/Patient/def")
        text = (await client.get("/metrics")).text
    route = "/fhir/{resource_type}/{resource_id}"
    assert f'dualcode_http_requests_total{{method="GET",route="{route}",status="401"}} 2.0' in text


async def test_start_up_objects_are_frozen_while_serving(tmp_path: Path) -> None:
    # A full collection walking everything imports and start-up built stopped the world for ~0.1 s.
    before = gc.get_freeze_count()
    async with running(create_app(settings_for(tmp_path))) as client:
        assert gc.get_freeze_count() > max(before, 100_000)
        assert (await client.get("/healthz")).status_code == 200
    assert gc.get_freeze_count() == 0  # unfrozen at shut-down: collectable again


Answer = tuple[int, str | None, str | None, object]


async def _compared(attempts: list[Coroutine[Any, Any, httpx.Response]]) -> list[Answer]:
    """What a direct and a routed answer must share: status, request id, WWW-Authenticate, body."""
    answers = []
    for attempt in attempts:
        answer = await attempt
        auth = answer.headers.get("www-authenticate")
        answers.append((answer.status_code, answer.headers.get("x-request-id"), auth, answer.json()))
    return answers


async def _resolve_card_answers(app: FastAPI) -> tuple[list[Answer], set[tuple[str, str]]]:
    """Answers of $resolve-card that need no card platform: every refusal, in the order checked."""
    async with running(app) as client:
        tokens = app.state.services.tokens
        reader = tokens.issue("reader", scopes=["system/Patient.r"]).token
        no_patients = tokens.issue("other", scopes=["system/Observation.r"]).token
        url = "/fhir/Patient/$resolve-card"
        fixed = {"X-Request-ID": "req-0123456789"}
        json_type = {"Content-Type": "application/fhir+json"}
        reader_json = {**fixed, "Authorization": f"Bearer {reader}", **json_type}
        attempts = [
            client.post(url, headers={**fixed, "Accept": "application/xml"}),
            client.post(url, headers=fixed),
            client.post(url, headers={**fixed, "Authorization": "Bearer not-a-token"}),
            client.post(
                url, headers={**fixed, "Authorization": f"Bearer {no_patients}", **json_type}, content=b"{}"
            ),
            client.post(url, headers={**fixed, "Authorization": f"Bearer {reader}"}, content=b"{}"),
            client.post(url, headers=reader_json, content=b"{"),
            client.post(url, headers=reader_json, content=b"{}"),
            client.post(url, headers={**fixed, "Content-Length": "99999999"}, content=b"{}"),
        ]
        answers = await _compared(attempts)
        metrics = (await client.get("/metrics")).text
    assert 'route="/fhir/Patient/$resolve-card",status="401"} 2.0' in metrics
    layer = app.middleware_stack
    while not isinstance(layer, ServiceMiddleware):
        layer = layer.app  # type: ignore[union-attr]
    return answers, set(layer.direct)


async def test_resolve_card_called_past_the_router_answers_as_the_routed_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, called_directly = await _resolve_card_answers(create_app(settings_for(tmp_path)))
    assert called_directly == {("POST", "/fhir/Patient/$resolve-card"), ("POST", "/sampling/registrations")}
    monkeypatch.setattr("adapter.app.DIRECT_PATHS", frozenset())
    routed, none = await _resolve_card_answers(create_app(settings_for(tmp_path)))
    assert none == set()
    assert [status for status, *_ in direct] == [406, 401, 401, 403, 415, 400, 400, 413]
    assert direct == routed


async def test_an_unexpected_exception_on_a_direct_route_is_a_500_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_stream: io.StringIO
) -> None:
    async def broken(self: object, body: object, caller: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("adapter.fhir.patient_operations.PatientOperations.resolve_card", broken)
    app = create_app(settings_for(tmp_path))
    async with running(app) as client:
        token = app.state.services.tokens.issue("reader", scopes=["system/Patient.r"]).token
        answer = await client.post(
            "/fhir/Patient/$resolve-card",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-abcdef12"},
            json={"resourceType": "Parameters"},
        )
    assert answer.status_code == 500 and answer.headers["X-Request-ID"] == "req-abcdef12"
    assert answer.json()["issue"][0]["details"]["coding"][0]["code"] == "DC-9000"
    assert "secret internal detail" not in answer.text


async def _registration_refusals(app: FastAPI) -> list[Answer]:
    """Answers of POST /sampling/registrations that need no card platform, in the order checked."""
    async with running(app) as client:
        tokens = app.state.services.tokens
        point = tokens.issue("point-1", scopes=[SAMPLING_SCOPE]).token
        reader = tokens.issue("reader", scopes=["system/Patient.r"]).token
        url = "/sampling/registrations"
        fixed = {"X-Request-ID": "req-0123456789", "Content-Type": "application/json"}
        as_point = {**fixed, "Authorization": f"Bearer {point}"}
        attempts = [
            client.post(url, headers=fixed, content=b"{}"),
            client.post(url, headers={**fixed, "Authorization": "Bearer not-a-token"}, content=b"{}"),
            client.post(url, headers={**fixed, "Authorization": f"Bearer {reader}"}, json=_SCAN),
            client.post(url, headers=as_point, content=b"{"),
            client.post(url, headers=as_point, json={**_SCAN, "tube": "bad tube!"}),
            client.post(url, headers=as_point, json={**_SCAN, "pool_size": 7}),
            client.post(url, headers={**as_point, "Content-Length": "99999999"}, content=b"{}"),
        ]
        answers = await _compared(attempts)
    return answers


_SCAN = {"code": "not-a-known-code-shape", "tube": "TUBE10001", "point": "P1", "pool_size": 10}


async def test_a_registration_called_past_the_router_answers_as_the_routed_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = await _registration_refusals(create_app(settings_for(tmp_path / "direct")))
    monkeypatch.setattr("adapter.app.DIRECT_PATHS", frozenset())
    routed = await _registration_refusals(create_app(settings_for(tmp_path / "routed")))
    assert [status for status, *_ in direct] == [401, 401, 403, 400, 400, 400, 413]
    assert direct == routed
