"""Routes the outermost middleware may call itself: only those FastAPI's routing adds nothing to."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from adapter.fhir.routes import router as fhir_router
from adapter.http.middleware import direct_routes


async def _dependency() -> None:
    return None


def test_plain_routes_are_called_directly_by_method_and_path() -> None:
    (route,) = [r for r in fhir_router.routes if getattr(r, "path", "") == "/fhir/Patient/$resolve-card"]
    assert direct_routes([route]) == {("POST", "/fhir/Patient/$resolve-card"): route}


def test_routes_with_parameters_or_dependencies_are_refused() -> None:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def by_id(request: Request, thing_id: str) -> Response:
        return Response()

    @router.get("/query")
    async def with_query(request: Request, q: str) -> Response:
        return Response()

    @router.get("/guarded", dependencies=[Depends(_dependency)])
    async def guarded(request: Request) -> Response:
        return Response()

    for route in router.routes:
        with pytest.raises(ValueError, match="directly"):
            direct_routes([route])
