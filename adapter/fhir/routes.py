"""Thin FastAPI routes over the FHIR core: translate HTTP to FhirRequest and back, nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from adapter.errors import MethodNotAllowed, ResourceNotFound
from adapter.fhir.exchange import FhirRequest
from adapter.fhir.operation_definitions import DEFINITIONS
from adapter.http.auth import authenticate
from adapter.http.negotiation import check_acceptable, read_json
from adapter.http.responses import fhir_response
from adapter.security.caller import Caller
from adapter.services import services_of

router = APIRouter(prefix="/fhir", dependencies=[Depends(check_acceptable)])
AuthedCaller = Annotated[Caller, Depends(authenticate)]


def base_url(request: Request) -> str:
    configured = services_of(request).settings.public_base_url
    root = configured.rstrip("/") if configured else str(request.base_url).rstrip("/")
    return f"{root}/fhir"


async def _answer(request: Request, fhir_request: FhirRequest, caller: Caller) -> Response:
    response = await services_of(request).fhir.handle(fhir_request, caller)
    return fhir_response(response.status, response.body, response.headers)


@router.get("/metadata")
async def metadata(request: Request) -> Response:
    # The CapabilityStatement is public (FHIR http.html#capabilities): clients read it before a token.
    anonymous = Caller(client_id="anonymous", scopes=frozenset())
    return await _answer(request, FhirRequest("capabilities", base_url(request)), anonymous)


# Operations come before the generic routes: /Patient/$ihe-pix is no Patient id.


@router.post("/Patient/$resolve-card")
async def resolve_card(request: Request, caller: AuthedCaller) -> Response:
    answer = await services_of(request).patient_operations.resolve_card(await read_json(request), caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.get("/Patient/$ihe-pix")
async def ihe_pix(request: Request, caller: AuthedCaller) -> Response:
    query = list(request.query_params.multi_items())
    answer = await services_of(request).patient_operations.ihe_pix(query, caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.post("/Patient/$match")
async def match(request: Request, caller: AuthedCaller) -> Response:
    operations = services_of(request).patient_operations
    answer = await operations.match(await read_json(request), caller, base_url(request))
    return fhir_response(answer.status, answer.body, answer.headers)


@router.post("/Patient/$merge")
async def merge(request: Request, caller: AuthedCaller) -> Response:
    answer = await services_of(request).patient_operations.merge(await read_json(request), caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.post("/Patient/$unmerge")
async def unmerge(request: Request, caller: AuthedCaller) -> Response:
    answer = await services_of(request).patient_operations.unmerge(await read_json(request), caller)
    return fhir_response(answer.status, answer.body, answer.headers)


@router.get("/OperationDefinition/{definition_id}")
async def operation_definition(definition_id: str) -> Response:
    # Published definitions describe the API, not people: public like the CapabilityStatement.
    for definition in DEFINITIONS.values():
        if definition["id"] == definition_id:
            return fhir_response(200, definition)
    raise ResourceNotFound("no such OperationDefinition")


@router.get("/{resource_type}")
async def search(request: Request, resource_type: str, caller: AuthedCaller) -> Response:
    query = tuple(request.query_params.multi_items())
    req = FhirRequest("search-type", base_url(request), resource_type, query=query)
    return await _answer(request, req, caller)


@router.post("/{resource_type}")
async def create(request: Request, resource_type: str, caller: AuthedCaller) -> Response:
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
async def read(request: Request, resource_type: str, resource_id: str, caller: AuthedCaller) -> Response:
    req = FhirRequest("read", base_url(request), resource_type, resource_id)
    return await _answer(request, req, caller)


@router.put("/{resource_type}/{resource_id}")
async def update(request: Request, resource_type: str, resource_id: str, caller: AuthedCaller) -> Response:
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
async def history(request: Request, resource_type: str, resource_id: str, caller: AuthedCaller) -> Response:
    req = FhirRequest("history-instance", base_url(request), resource_type, resource_id)
    return await _answer(request, req, caller)


@router.get("/{resource_type}/{resource_id}/_history/{version_id}")
async def vread(
    request: Request, resource_type: str, resource_id: str, version_id: str, caller: AuthedCaller
) -> Response:
    req = FhirRequest("vread", base_url(request), resource_type, resource_id, version_id)
    return await _answer(request, req, caller)


@router.api_route("/{path:path}", methods=["DELETE", "PATCH", "POST", "PUT", "GET", "HEAD", "OPTIONS"])
async def unsupported(request: Request, path: str) -> Response:
    raise MethodNotAllowed(f"{request.method} /fhir/{path[:80]} is not supported")
