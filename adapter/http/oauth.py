"""OAuth 2.0 client-credentials grant (RFC 6749 §4.4) with client_secret_basic and client_secret_post.

Errors are OperationOutcomes like everywhere else; the RFC 6749 error code rides along in
issue.details.coding (system urn:ietf:rfc:6749) and in WWW-Authenticate for 401.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from adapter.errors import InvalidClient, InvalidTokenRequest, RateLimited, UnsupportedGrant
from adapter.http.auth import client_ip
from adapter.security.clients import client_credentials_from
from adapter.security.scopes import narrow_scopes, scopes_for_roles
from adapter.services import services_of

router = APIRouter()
FAILURE_WINDOW_S = 60.0


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    services = services_of(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise InvalidTokenRequest("send the token request as application/x-www-form-urlencoded")
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    if form.get("grant_type") != "client_credentials":
        raise UnsupportedGrant()
    ip = client_ip(request) or "unknown"
    failures_key = f"oauth:failures:{ip}"
    limit = services.settings.token_failures_per_minute
    failures = await services.cache.get(failures_key)
    if failures is not None and int(failures) >= limit:
        raise RateLimited(headers={"Retry-After": str(int(FAILURE_WINDOW_S))})
    client_id, secret = client_credentials_from(request.headers.get("authorization"), form)
    async with services.storage.unit_of_work(read_only=True) as uow:
        try:
            client = await services.clients.authenticate(uow, client_id, secret)
        except InvalidClient:
            await services.cache.incr(failures_key, ttl_s=FAILURE_WINDOW_S)
            raise
    scopes = narrow_scopes(scopes_for_roles(client.roles), form.get("scope"))
    await services.audit_writer.submit(
        services.auditor.build(
            agent=client.client_id,
            action="E",
            operation="oauth token",
            outcome="0",
            source_ip=ip,
            request_id=getattr(request.state, "request_id", None),
        )
    )
    issued = services.tokens.issue(
        client_id=client.client_id, scopes=scopes, roles=client.roles, organization=client.organization
    )
    body = {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": " ".join(sorted(scopes)),
    }
    return Response(
        json.dumps(body),
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
