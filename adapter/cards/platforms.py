"""One door for every scanned code: tell its kind (unless the caller says it) and verify it with
the platform that issued it. Owns the clients, so one `aclose()` releases every connection."""

from __future__ import annotations

import httpx

from adapter.cards.config import CardPlatformConfig
from adapter.cards.context import ScanContext
from adapter.cards.detect import detect_kind
from adapter.cards.ehc import EhcClient
from adapter.cards.errors import CardProblem, card_error
from adapter.cards.essc import EsscClient
from adapter.cards.holder import CardHolder, CardKind
from adapter.cards.nhsa import NhsaClient
from adapter.cards.protocol import CardPlatform
from adapter.cards.recent import RecentVerifications
from adapter.cards.ssc_reader import SscReader


class CardPlatforms:
    def __init__(
        self,
        *,
        essc: EsscClient,
        ehc: EhcClient,
        nhsa: NhsaClient,
        ssc: SscReader,
        default_kind: CardKind | None = None,
        prefixes: tuple[tuple[str, CardKind], ...] = (),
        recent: RecentVerifications | None = None,
    ) -> None:
        self.essc, self.ehc, self.nhsa, self.ssc = essc, ehc, nhsa, ssc
        self._recent = recent or RecentVerifications(0)
        self._default_kind = default_kind
        self._prefixes = prefixes
        self._by_kind: dict[CardKind, CardPlatform] = {"essc": essc, "ehc": ehc, "nhsa": nhsa, "ssc": ssc}

    @classmethod
    def from_config(
        cls, config: CardPlatformConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> CardPlatforms:
        return cls(
            essc=EsscClient(config, transport=transport),
            ehc=EhcClient(config, transport=transport),
            nhsa=NhsaClient(config, transport=transport),
            ssc=SscReader(),
            default_kind=config.default_kind,
            prefixes=config.code_prefixes,
            recent=RecentVerifications(config.static_code_ttl_s),
        )

    def kind_of(self, code: str) -> CardKind:
        return detect_kind(code, default=self._default_kind, prefixes=self._prefixes)

    async def verify(self, code: str, context: ScanContext, *, kind: CardKind | None = None) -> CardHolder:
        """Verify a scanned code. An ID number is no card code: it names a person only together
        with a name, which the identity service checks (kind "idcard" is refused here)."""
        chosen = kind or self.kind_of(code)
        platform = self._by_kind.get(chosen)
        if platform is None:
            raise card_error(CardProblem.UNKNOWN_SHAPE, f"a {chosen} code is not verified by a card platform")
        key = f"{chosen}\x00{code.strip()}"
        holder = self._recent.get(key)
        if holder is None:
            holder = await platform.verify(code, context)
            self._recent.keep(key, holder)
        return holder

    async def aclose(self) -> None:
        for platform in self._by_kind.values():
            await platform.aclose()
