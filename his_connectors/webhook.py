"""JSON over HTTP POST, signed, with an idempotency key per event.

Headers (docs/connectors.md):
    Idempotency-Key:        the outbox event id (the same on every retry)
    X-Dualcode-Timestamp:   Unix seconds when this attempt was signed
    X-Dualcode-Signature:   "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body bytes)
The receiver recomputes the HMAC over the exact body bytes, rejects stale timestamps, and treats
a repeated Idempotency-Key as done. 2xx and 409 (already have it) count as delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from his_connectors.base import Envelope, Health, Receipt
from his_connectors.http_common import failure, new_client, probe

SIGNATURE_HEADER = "X-Dualcode-Signature"
TIMESTAMP_HEADER = "X-Dualcode-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def body_of(envelope: Envelope) -> bytes:
    document = {
        "id": envelope.event_id,
        "topic": envelope.topic,
        "hospital": envelope.hospital,
        "occurredAt": envelope.occurred_at,
        "orderingKey": envelope.ordering_key,
        "payload": dict(envelope.payload),
        "resources": {role: dict(body) for role, body in envelope.resources.items()},
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookConnector:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret to sign with")
        self.url = url
        self._secret = secret
        self._client = client or new_client(timeout_s)
        self._clock = clock

    async def deliver(self, envelope: Envelope) -> Receipt:
        body = body_of(envelope)
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: envelope.event_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        try:
            answer = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return Receipt.failed(f"HIS unreachable: {type(error).__name__}")
        if answer.is_success or answer.status_code == 409:
            return Receipt.ok(envelope.event_id, f"HTTP {answer.status_code}")
        return failure(answer, answer.text[:200])

    async def health(self) -> Health:
        return await probe(self._client, self.url)

    async def close(self) -> None:
        await self._client.aclose()
