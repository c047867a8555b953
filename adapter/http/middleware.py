"""The outermost layer: request id, body size limit, metrics, and the catch-all.

Pure ASGI (not BaseHTTPMiddleware) so bodies stream and nothing is buffered twice. Any exception
that escapes a route becomes a 500 OperationOutcome with the request id and no internal detail; the
traceback goes to the log under that request id.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Sequence

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter.errors import BodyTooLarge, DualcodeError
from adapter.http.metrics import HttpMetrics
from adapter.http.responses import error_response, internal_error_response
from adapter.security.logging import request_id_var

log = logging.getLogger("dualcode.http")
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class _TooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metrics: HttpMetrics,
        direct: Sequence[BaseRoute] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.direct = direct_routes(direct)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        context_token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        declared = _content_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge()
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if declared is not None and declared > self.max_body_bytes:
                raise _TooLarge()
            direct = self.direct.get((scope["method"], scope["path"]))
            if direct is None:
                await self.app(scope, limited_receive, send_with_id)
            else:
                await _call_direct(direct, scope, limited_receive, send_with_id)
        except _TooLarge:
            if not response_started:
                await error_response(BodyTooLarge(f"limit is {self.max_body_bytes} bytes"), request_id)(
                    scope, receive, send_with_id
                )
        except Exception:
            log.exception("unhandled error")
            if not response_started:
                await internal_error_response(request_id)(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)
            request_id_var.reset(context_token)


def direct_routes(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], APIRoute]:
    """(method, path) -> route, for hot routes the middleware calls itself (``_call_direct``). Only
    plain routes qualify: a fixed path and an endpoint that takes the Request alone (no path
    parameters, no dependencies, no body model), so skipping FastAPI's routing skips nothing."""
    table: dict[tuple[str, str], APIRoute] = {}
    for route in routes:
        if not isinstance(route, APIRoute) or route.param_convertors or route.dependant.dependencies:
            raise ValueError(f"{getattr(route, 'path', route)!r} cannot be called directly")
        parameters = route.dependant
        if parameters.path_params or parameters.query_params or parameters.body_params:
            raise ValueError(f"{route.path!r} takes parameters: it cannot be called directly")
        for method in route.methods or ():
            table[(method, route.path)] = route
    return table


async def _call_direct(route: APIRoute, scope: Scope, receive: Receive, send: Send) -> None:
    """What FastAPI's routing would do for this route, minus its layers (router matching, exception
    and exit-stack middleware, dependency solving: ~20% of a known-person card scan's CPU). A
    DualcodeError renders exactly as the app's handler renders it; anything else goes to the
    catch-all around this call, as it would from the routed path."""
    scope["route"] = route
    scope["endpoint"] = route.endpoint
    scope["path_params"] = {}
    request = Request(scope, receive)
    try:
        response: Response = await route.endpoint(request)
    except DualcodeError as error:
        response = error_response(error, scope["state"]["request_id"])
    await response(scope, receive, send)


def _request_id(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(candidate):
                return candidate
    # 128 random bits as 32 hex digits, like uuid4().hex: an id to correlate logs, not a secret, so the
    # fast generator (seeded from os.urandom per process) rather than a system call per request.
    return f"{random.getrandbits(128):032x}"


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
