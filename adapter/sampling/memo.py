"""What the pre-check before a scan remembers of tubes (``TubeMemo``)."""

from __future__ import annotations

import itertools
import time

from adapter.storage.records import SamplingTube

MEMO_SIZE = 10_000  # tubes remembered (a point fills one every few minutes)


class TubeMemo:
    """Tubes as this process last saw them, for the pre-check before a scan (which spends a dynamic
    code): a tube bound or read within ``ttl_s`` is not read again. Pool size and point never change
    and a closed tube stays closed, so the only thing a memo can miss is a close by *another*
    process within ``ttl_s``; then the scan is still refused, by the bind (under the tube's lock),
    after the code was verified. Closes in this process update the memo at once."""

    def __init__(self, *, ttl_s: float, size: int = MEMO_SIZE) -> None:
        self._ttl_s, self._size = ttl_s, size
        self._tubes: dict[str, tuple[float, SamplingTube]] = {}

    def get(self, barcode: str) -> SamplingTube | None:
        entry = self._tubes.get(barcode)
        if entry is None:
            return None
        seen_at, tube = entry
        if tube.status == "closed" or time.monotonic() - seen_at < self._ttl_s:
            return tube
        return None

    def put(self, tube: SamplingTube) -> None:
        tubes = self._tubes
        tubes.pop(tube.barcode, None)  # newest last: the oldest go first
        tubes[tube.barcode] = (time.monotonic(), tube)
        if len(tubes) > self._size:
            for barcode in list(itertools.islice(tubes, len(tubes) - self._size)):
                del tubes[barcode]
