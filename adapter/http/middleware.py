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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter.errors import BodyTooLarge
from adapter.http.metrics import HttpMetrics
from adapter.http.responses import error_response, internal_error_response
from adapter.security.logging import request_id_var

log = logging.getLogger("dualcode.http")
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class _TooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: HttpMetrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

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
            await self.app(scope, limited_receive, send_with_id)
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
