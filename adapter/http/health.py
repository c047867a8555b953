"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapter.errors import DualcodeError
from adapter.services import services_of

router = APIRouter()


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "up"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)
    checks: dict[str, str] = {}
    for name, ping in (("database", services.storage.ping), ("cache", services.cache.ping)):
        try:
            await ping()
            checks[name] = "ok"
        except DualcodeError as error:
            checks[name] = error.code
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    http_metrics = services_of(request).metrics
    return Response(http_metrics.render(), media_type=http_metrics.content_type)
