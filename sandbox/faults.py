"""Fault injection for the SIMULATED platforms: answer slowly, or fail with 503, per platform."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

Platform = Literal["essc", "ehc", "nhsa"]
PLATFORMS: tuple[Platform, ...] = ("essc", "ehc", "nhsa")
FaultMode = Literal["ok", "slow", "fail"]


@dataclass(frozen=True)
class Fault:
    mode: FaultMode = "ok"
    delay_s: float = 0.0


class SimulatedOutage(Exception):
    """Raised inside a platform endpoint told to fail; the app answers 503."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(f"{platform} simulator is told to fail")
        self.platform = platform


class Faults:
    def __init__(self) -> None:
        self._faults: dict[Platform, Fault] = {}

    def set(self, platform: Platform | Literal["*"], fault: Fault) -> None:
        for each in PLATFORMS if platform == "*" else (platform,):
            self._faults[each] = fault

    def get(self, platform: Platform) -> Fault:
        return self._faults.get(platform, Fault())

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {p: {"mode": self.get(p).mode, "delay_s": self.get(p).delay_s} for p in PLATFORMS}

    async def apply(self, platform: Platform) -> None:
        """Call first in every platform endpoint."""
        fault = self.get(platform)
        if fault.mode == "slow":
            await asyncio.sleep(fault.delay_s)
        elif fault.mode == "fail":
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            raise SimulatedOutage(platform)
