"""What the HTTP connectors share: one pooled httpx client per destination, and how an HTTP
answer becomes a Receipt."""

from __future__ import annotations

import httpx

from his_connectors.base import Health, Receipt

RETRYABLE_STATUS = frozenset({408, 425, 429})


def new_client(timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        follow_redirects=False,
    )


def failure(answer: httpx.Response, detail: str) -> Receipt:
    """4xx (but 408/425/429) will not change on retry; 5xx may."""
    retryable = answer.status_code >= 500 or answer.status_code in RETRYABLE_STATUS
    return Receipt.failed(f"HTTP {answer.status_code}: {detail}".rstrip(": "), retryable=retryable)


async def probe(client: httpx.AsyncClient, url: str) -> Health:
    """Any HTTP answer means the endpoint is there; only transport errors are unhealthy."""
    try:
        answer = await client.get(url)
    except httpx.HTTPError as error:
        return Health(False, f"{type(error).__name__}")
    return Health(True, f"HTTP {answer.status_code}")
