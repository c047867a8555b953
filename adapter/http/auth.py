"""Bearer-token authentication for routes that touch personal data.

A failed authentication is itself audited (agent "anonymous"), so probing leaves a trace.
"""

from __future__ import annotations

from starlette.requests import Request

from adapter.errors import DualcodeError, InvalidToken, MissingToken
from adapter.security.caller import Caller
from adapter.services import services_of


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def authenticate(request: Request) -> Caller:
    services = services_of(request)
    request_id = getattr(request.state, "request_id", None)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    try:
        if not header:
            raise MissingToken()
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("use Authorization: Bearer <token>")
        claims = services.tokens.verify(token.strip())
    except DualcodeError as error:
        await services.audit_writer.submit(
            services.auditor.build(
                agent="anonymous",
                action="E",
                operation=f"authenticate {request.method} {request.url.path}",
                outcome="4",
                source_ip=client_ip(request),
                request_id=request_id,
                detail={"error": error.code},
            )
        )
        raise
    return Caller(
        client_id=claims.client_id,
        scopes=frozenset(claims.scopes),
        roles=frozenset(claims.roles),
        organization=claims.organization,
        source_ip=client_ip(request),
        request_id=request_id,
    )
