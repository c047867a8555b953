"""What the SIMULATED HIS remembers: every message it was sent, per hospital, and how it is told to
behave. Shared by its MLLP receiver (own thread and event loop) and its HTTP routes, hence the lock."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

HisMode = Literal["ok", "refuse", "timeout", "down"]
HIS_MODES: tuple[HisMode, ...] = ("ok", "refuse", "timeout", "down")
ANY_HOSPITAL = "*"


@dataclass(frozen=True, slots=True)
class Received:
    seq: int
    hospital: str
    channel: str  # mllp | fhir | webhook
    message_type: str  # ADT^A04, Patient, patient.created ...
    key: str  # MSH-10, Idempotency-Key, or the identifier searched on
    raw: str
    answered: str  # AA, AE, 201, 422, none ...
    duplicate: bool  # the same key was accepted before: a HIS that de-duplicates ignores it
    at: datetime

    def view(self) -> dict[str, object]:
        return {
            "seq": self.seq, "hospital": self.hospital, "channel": self.channel,
            "type": self.message_type, "key": self.key, "raw": self.raw, "answered": self.answered,
            "duplicate": self.duplicate, "at": self.at.isoformat(),
        }  # fmt: skip


class HisState:
    def __init__(self, *, keep: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._received: deque[Received] = deque(maxlen=keep)
        self._accepted: dict[str, set[str]] = {}
        self._modes: dict[str, HisMode] = {}
        self._seq = 0

    def mode(self, hospital: str) -> HisMode:
        with self._lock:
            return self._modes.get(hospital) or self._modes.get(ANY_HOSPITAL, "ok")

    def set_mode(self, hospital: str, mode: HisMode) -> None:
        with self._lock:
            if hospital == ANY_HOSPITAL:
                self._modes.clear()
            self._modes[hospital] = mode

    def modes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._modes)

    def record(
        self,
        *,
        hospital: str,
        channel: str,
        message_type: str,
        key: str,
        raw: str,
        answered: str,
        accepted: bool,
    ) -> Received:
        with self._lock:
            seen = self._accepted.setdefault(hospital, set())
            duplicate = key in seen
            if accepted:
                seen.add(key)
            self._seq += 1
            item = Received(
                self._seq, hospital, channel, message_type, key, raw, answered, duplicate, datetime.now(UTC)
            )
            self._received.append(item)
            return item

    def received(self, hospital: str | None = None, limit: int = 100) -> list[Received]:
        """Newest first."""
        with self._lock:
            items = [r for r in reversed(self._received) if hospital is None or r.hospital == hospital]
        return items[:limit]

    def accepted_keys(self, hospital: str) -> int:
        with self._lock:
            return len(self._accepted.get(hospital, ()))

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._accepted.clear()
