"""Every JSON answer of the FHIR API, errors included, is application/fhir+json."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response

from adapter.errors import DualcodeError, internal_error_outcome, operation_outcome

FHIR_JSON = "application/fhir+json"


def fhir_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    try:
        content = orjson.dumps(body)  # the bytes json.dumps(ensure_ascii=False, compact) would give
    except (orjson.JSONEncodeError, TypeError):
        # What orjson refuses and json takes: integers beyond 64 bits a client sent us, say.
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, headers=headers, media_type=f"{FHIR_JSON}; charset=utf-8")


def error_response(error: DualcodeError, request_id: str | None) -> Response:
    headers = dict(error.headers)
    if request_id:
        headers["X-Request-ID"] = request_id
    if error.http_status == 401 and "WWW-Authenticate" not in headers:
        oauth = getattr(error, "oauth_error", "invalid_token")
        headers["WWW-Authenticate"] = f'Bearer realm="dualcode", error="{oauth}"'
    return fhir_response(error.http_status, operation_outcome(error, request_id=request_id), headers)


def internal_error_response(request_id: str) -> Response:
    return fhir_response(500, internal_error_outcome(request_id), {"X-Request-ID": request_id})
