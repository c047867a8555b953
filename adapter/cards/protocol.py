"""The one interface every card platform client offers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from adapter.cards.context import ScanContext
from adapter.cards.holder import CardHolder


@runtime_checkable
class CardPlatform(Protocol):
    async def verify(self, code: str, context: ScanContext) -> CardHolder:
        """Verify a scanned code with the platform and say whose it is.

        Raises a DualcodeError (see adapter.cards.errors): a refusal (expired, replayed, forged,
        suspended, ...) or UpstreamUnavailable with Retry-After when the platform cannot answer."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
