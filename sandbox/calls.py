"""The SIMULATED platforms' calls, answered straight from ASGI.

Every platform call is a POST of a JSON object answered with a JSON object (refusals included, with
HTTP 200, as those platforms do), or 503 when a fault says so. The simulator stands in for remote
platforms but runs on the same machine as the service under load, so its own cost counts: FastAPI's
routing, dependency solving, ``BaseHTTPMiddleware`` and response encoding cost ≈ 0.4 ms a call here,
several times the platform logic. ``SimulatorApp`` answers the calls of ``PlatformCall`` table
before any of that (read the body, apply the platform's fault, run the handler, write the JSON), and
hands every other request to FastAPI. The same table is registered as FastAPI routes, so ``/docs``
still describes the platform calls.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from starlette.types import Message, Receive, Scope, Send

from sandbox.faults import Platform, SimulatedOutage
from sandbox.state import SIMULATOR_HEADER, SandboxState, sandbox_state

Handler = Callable[[SandboxState, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class PlatformCall:
    platform: Platform  # whose fault switch applies
    path: str
    handler: Handler  # the request's JSON object (``{}`` when it is not one) -> the answer


async def answer(call: PlatformCall, state: SandboxState, raw: bytes) -> dict[str, Any]:
    """The answer to a body: the platform's fault first (slow, or SimulatedOutage), then the handler."""
    await state.faults.apply(call.platform)
    return await call.handler(state, json_body(raw))


def json_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty dict when it is not one (the platforms answer that)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:  # what orjson refuses (a byte order mark, NaN) Python's json may still read
            body = json.loads(raw)
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


def outage_answer(error: SimulatedOutage) -> dict[str, Any]:
    return {"error": "simulated outage", "platform": error.platform}


def docs_router(calls: Sequence[PlatformCall], *, prefix: str, tags: list[str]) -> APIRouter:
    """The calls as FastAPI routes: what ``/docs`` shows (a request reaches them only through an app
    that does not answer the calls first)."""
    router = APIRouter(prefix=prefix, tags=list(tags))
    for call in calls:
        router.add_api_route(
            call.path.removeprefix(prefix),
            _endpoint(call),
            methods=["POST"],
            name=call.handler.__name__,
            description=call.handler.__doc__ or "",
        )
    return router


def _endpoint(call: PlatformCall) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    async def endpoint(request: Request) -> dict[str, Any]:
        return await answer(call, sandbox_state(request), await request.body())

    return endpoint


_HEADER = (SIMULATOR_HEADER[0].lower().encode(), SIMULATOR_HEADER[1].encode())
_JSON = (b"content-type", b"application/json")


class SimulatorApp(FastAPI):
    """FastAPI, with the platform calls answered before routing, and the simulator mark on every answer."""

    platform_calls: Mapping[str, PlatformCall] = MappingProxyType({})

    def serve_calls(self, calls: Sequence[PlatformCall]) -> None:
        self.platform_calls = {call.path: call for call in calls}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            call = self.platform_calls.get(scope["path"]) if scope["method"] == "POST" else None
            if call is not None:
                await self._answer_call(call, receive, send)
                return
            send = _marked(send)
        await super().__call__(scope, receive, send)

    async def _answer_call(self, call: PlatformCall, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        status = 200
        try:
            body = orjson.dumps(await answer(call, self.state.sandbox, b"".join(chunks)))
        except SimulatedOutage as error:
            status, body = 503, orjson.dumps(outage_answer(error))
        headers = [_JSON, (b"content-length", str(len(body)).encode()), _HEADER]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _marked(send: Send) -> Send:
    """``send``, adding the simulator header to the response's start."""

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), _HEADER]}
        await send(message)

    return marked
