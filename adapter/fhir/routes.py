"""Thin FastAPI routes over the FHIR core: translate HTTP to FhirRequest and back, nothing more.

Every route first checks the Accept header / _format (406), then, unless the route is public, the
bearer token (401, audited). Both are plain awaited calls rather than FastAPI dependencies: these
are the hot routes, and FastAPI's dependency machinery cost more per request than the checks
themselves (measured in docs/design.md). Keep the order: negotiation before authentication.
"""

from __future__ import annotations

import functools

from fastapi import APIRouter
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from adapter.errors import MethodNotAllowed, ResourceNotFound
from adapter.fhir.exchange import FhirRequest
from adapter.fhir.operation_definitions import DEFINITIONS
from adapter.http.auth import authenticate
from adapter.http.negotiation import check_acceptable, read_json
from adapter.http.responses import fhir_response
from adapter.security.caller import Caller
from adapter.services import services_of

router = APIRouter(prefix="/fhir")


async def _authorized(request: Request) -> Caller:
    await check_acceptable(request)
    return await authenticate(request)


def base_url(request: Request) -> str:
    configured = services_of(request).settings.public_base_url
    if configured:
        return f"{configured.rstrip('/')}/fhir"
    scope = request.scope
    host = next((value for key, value in scope["headers"] if key == b"host"), None)
    root_path = scope.get("app_root_path", scope.get("root_path", ""))
    server = scope.get("server")
    return _request_base(scope.get("scheme", "http"), tuple(server) if server else None, host, root_path)


@functools.lru_cache(maxsize=64)
def _request_base(
    scheme: str, server: tuple[str, int | None] | None, host: bytes | None, root_path: str
) -> str:
    # What str(request.base_url) gives (Starlette builds a URL object per request), remembered: a
    # service is reached under very few names.
    path = root_path if root_path.endswith("/") else f"{root_path}/"
    scope: Scope = {"type": "http", "scheme": scheme, "server": server, "path": path, "query_string": b""}
    scope["headers"] = [(b"host", host)] if host is not None else []
    return f"{str(URL(scope=scope)).rstrip('/')}/fhir"


async def _answer(request: Request, fhir_request: FhirRequest, caller: Caller) -> Response:
    response = await services_of(request).fhir.handle(fhir_request, caller)
    return fhir_response(response.status, response.body, response.headers)


@router.get("/metadata")
async def metadata(request: Request) -> Response:
    await check_acceptable(request)
    # The CapabilityStatement is public (FHIR http.html#capabilities): clients read it before a token.
    anonymous = Caller(client_id="anonymous", scopes=frozenset())
    return await _answer(request, FhirRequest("capabilities", base_url(request)), anonymous)


# Operations come before the generic routes: /Patient/$ihe-pix is no Patient id.


@router.post("/Patient/$resolve-card")
async def resolve_card(request: Request) -> Response:
    caller = await _authorized(request)
    answer = await services_of(request).patient_operations.resolve_card(await read_json(request), caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.get("/Patient/$ihe-pix")
async def ihe_pix(request: Request) -> Response:
    caller = await _authorized(request)
    query = list(request.query_params.multi_items())
    answer = await services_of(request).patient_operations.ihe_pix(query, caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.post("/Patient/$match")
async def match(request: Request) -> Response:
    caller = await _authorized(request)
    operations = services_of(request).patient_operations
    answer = await operations.match(await read_json(request), caller, base_url(request))
    return fhir_response(answer.status, answer.body, answer.headers)


@router.post("/Patient/$merge")
async def merge(request: Request) -> Response:
    caller = await _authorized(request)
    answer = await services_of(request).patient_operations.merge(await read_json(request), caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.post("/Patient/$unmerge")
async def unmerge(request: Request) -> Response:
    caller = await _authorized(request)
    answer = await services_of(request).patient_operations.unmerge(await read_json(request), caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.get("/OperationDefinition/{definition_id}")
async def operation_definition(request: Request, definition_id: str) -> Response:
    await check_acceptable(request)
    # Published definitions describe the API, not people: public like the CapabilityStatement.
    for definition in DEFINITIONS.values():
        if definition["id"] == definition_id:
            return fhir_response(200, definition)
    raise ResourceNotFound("no such OperationDefinition")


@router.get("/{resource_type}")
async def search(request: Request, resource_type: str) -> Response:
    caller = await _authorized(request)
    query = tuple(request.query_params.multi_items())
    req = FhirRequest("search-type", base_url(request), resource_type, query=query)
    return await _answer(request, req, caller)


@router.post("/{resource_type}")
async def create(request: Request, resource_type: str) -> Response:
    caller = await _authorized(request)
    body = await read_json(request)
    req = FhirRequest(
        "create",
        base_url(request),
        resource_type,
        body=body,
        if_none_exist=request.headers.get("if-none-exist"),
    )
    return await _answer(request, req, caller)


@router.get("/{resource_type}/{resource_id}")
async def read(request: Request, resource_type: str, resource_id: str) -> Response:
    caller = await _authorized(request)
    req = FhirRequest("read", base_url(request), resource_type, resource_id)
    return await _answer(request, req, caller)


@router.put("/{resource_type}/{resource_id}")
async def update(request: Request, resource_type: str, resource_id: str) -> Response:
    caller = await _authorized(request)
    body = await read_json(request)
    req = FhirRequest(
        "update",
        base_url(request),
        resource_type,
        resource_id,
        body=body,
        if_match=request.headers.get("if-match"),
    )
    return await _answer(request, req, caller)


@router.get("/{resource_type}/{resource_id}/_history")
async def history(request: Request, resource_type: str, resource_id: str) -> Response:
    caller = await _authorized(request)
    req = FhirRequest("history-instance", base_url(request), resource_type, resource_id)
    return await _answer(request, req, caller)


@router.get("/{resource_type}/{resource_id}/_history/{version_id}")
async def vread(request: Request, resource_type: str, resource_id: str, version_id: str) -> Response:
    caller = await _authorized(request)
    req = FhirRequest("vread", base_url(request), resource_type, resource_id, version_id)
    return await _answer(request, req, caller)


@router.api_route("/{path:path}", methods=["DELETE", "PATCH", "POST", "PUT", "GET", "HEAD", "OPTIONS"])
async def unsupported(request: Request, path: str) -> Response:
    await check_acceptable(request)
    raise MethodNotAllowed(f"{request.method} /fhir/{path[:80]} is not supported")
