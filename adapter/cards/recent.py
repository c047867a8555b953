"""Static codes verified moments ago: answered again without a platform call.

A static EHC QR (`<EHC ID>:1`) is the same text every time it is shown and names the same holder,
and one visit shows it at registration, payment, treatment, pharmacy and settlement within minutes.
Asking the platform each time costs a round trip per step. So a successful verification of a code
that carries no one-use token is kept for a short time (``cards_static_code_ttl_s``; 0 = always
ask). The price, documented: a card suspended meanwhile is refused at most that much later.
Dynamic codes (one use, carrying a token) and failures are never kept. Memory only, per process,
bounded: the holders are personal data and never leave the process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from adapter.cards.holder import CardHolder


class RecentVerifications:
    def __init__(
        self, ttl_s: float, *, capacity: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._held: OrderedDict[str, tuple[float, CardHolder]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._ttl_s > 0

    def get(self, code: str) -> CardHolder | None:
        entry = self._held.get(code)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._held[code]
            return None
        return entry[1]

    def keep(self, code: str, holder: CardHolder) -> None:
        """Keep a holder verified just now, unless the code was a one-use one."""
        if not self.enabled or holder.tokens:
            return
        self._held[code] = (self._clock() + self._ttl_s, holder)
        self._held.move_to_end(code)
        while len(self._held) > self._capacity:
            self._held.popitem(last=False)
