"""Serves the sampling point page and its assets. The files are static; the page talks to the JSON
API with a bearer token it obtains itself (client credentials), so serving it needs no login."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapter.errors import RouteNotFound
from adapter.sampling.values import POOL_SIZES
from adapter.services import services_of

router = APIRouter(tags=["pages"])
STATIC = files("adapter.web") / "static"
ASSETS = {"page.js": "text/javascript", "page.css": "text/css"}
# The page loads nothing from elsewhere and runs no inline script.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/sampling")
async def sampling_page() -> Response:
    html = (STATIC / "sampling.html").read_bytes()
    return Response(html, media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/sampling/assets/{name}")
async def sampling_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise RouteNotFound()
    return Response((STATIC / name).read_bytes(), media_type=f"{media_type}; charset=utf-8", headers=HEADERS)


@router.get("/sampling/config")
async def sampling_config(request: Request) -> Response:
    """What the page needs before login: the tube barcode format and the pool sizes (nothing personal)."""
    settings = services_of(request).settings
    body = {"tube_pattern": settings.sampling_tube_pattern, "pool_sizes": sorted(POOL_SIZES)}
    return JSONResponse(body, headers=HEADERS)
