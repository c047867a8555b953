"""Content negotiation for the FHIR API: JSON only, asked for by Accept or _format."""

from __future__ import annotations

import json

from starlette.requests import Request

from adapter.errors import MalformedBody, NotAcceptable, UnsupportedMediaType
from adapter.json_codec import load_json

_JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}
_ACCEPTABLE = {"application/fhir+json", "application/json", "application/json+fhir", "*/*", "application/*"}


async def check_acceptable(request: Request) -> None:
    # async although it awaits nothing: FastAPI runs a plain-def dependency in a worker thread, a
    # hand-off that cost more than the check itself on every FHIR request.
    fmt = request.query_params.get("_format")
    if fmt is not None:
        if fmt.split(";")[0].strip().lower() not in _JSON_FORMATS:
            raise NotAcceptable(f"_format={fmt[:40]} is not served")
        return  # _format overrides Accept (FHIR http.html#mime-type)
    accept = request.headers.get("accept")
    if not accept:
        return
    offered = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if not offered & _ACCEPTABLE:
        raise NotAcceptable()


def check_body_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in {"application/fhir+json", "application/json", "application/json+fhir"}:
        raise UnsupportedMediaType()


async def read_json(request: Request) -> object:
    check_body_type(request)
    raw = await request.body()
    try:  # orjson, and json.loads where orjson would differ or refuses (same objects, same errors)
        return load_json(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody(f"the body is not well-formed JSON (at byte {getattr(exc, 'pos', 0)})") from None
