"""routes.base_url remembers what Starlette's request.base_url computes: it must give the same."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from adapter.fhir.routes import base_url


def request(public_base_url: str | None = None, **scope: Any) -> Request:
    settings = SimpleNamespace(public_base_url=public_base_url)
    app = SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(settings=settings)))
    full = {"type": "http", "scheme": "http", "path": "/fhir/Patient", "query_string": b"", "headers": []}
    return Request({**full, "app": app, **scope})


@pytest.mark.parametrize(
    "scope",
    [
        {"headers": [(b"host", b"127.0.0.1:8080")], "server": ("127.0.0.1", 8080)},
        {"headers": [(b"host", b"his.example.org")], "server": ("10.0.0.1", 80), "scheme": "https"},
        {"headers": [], "server": ("127.0.0.1", 8080)},
        {"headers": [], "server": ("::1", 8080)},
        {"headers": [], "server": ["127.0.0.1", 80]},
        {"headers": [(b"host", b"h:9")], "server": ("127.0.0.1", 9), "root_path": "/api"},
        {
            "headers": [(b"host", b"h:9")],
            "server": ("127.0.0.1", 9),
            "root_path": "/api/",
            "app_root_path": "/x",
        },
        {"headers": [(b"host", b"bad host:abc")], "server": ("127.0.0.1", 9)},
    ],
)
def test_the_same_as_starlette(scope: dict[str, Any]) -> None:
    for _ in range(2):  # computed, then remembered
        assert base_url(request(**scope)) == f"{str(request(**scope).base_url).rstrip('/')}/fhir"


def test_the_configured_public_base_url_wins() -> None:
    got = base_url(request("https://fhir.example.org/base/", headers=[(b"host", b"x")], server=("h", 1)))
    assert got == "https://fhir.example.org/base/fhir"
