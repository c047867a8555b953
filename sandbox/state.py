"""What every SIMULATED platform shares: the population, the issued codes and the fault switches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from fastapi import Request

from sandbox.codes import Clock, CodeBook, utc_now
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.population import Population

SIMULATOR_HEADER = ("X-Simulator", "dualcode-sandbox")


@dataclass(frozen=True)
class SandboxState:
    config: SandboxConfig
    population: Population
    codes: CodeBook
    faults: Faults

    @classmethod
    def start(cls, config: SandboxConfig, *, clock: Clock = utc_now) -> SandboxState:
        population = Population(
            seed=config.seed, root_key=config.root_key, today=clock().date(), path=config.data_file
        )
        population.ensure(config.people)
        codes = CodeBook(
            population,
            protection_key=config.protection_key,
            ttl_s=config.code_ttl_s,
            static_limit=config.static_verify_limit,
            clock=clock,
        )
        return cls(config=config, population=population, codes=codes, faults=Faults())


def sandbox_state(request: Request) -> SandboxState:
    return cast(SandboxState, request.app.state.sandbox)


def text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value.strip() if isinstance(value, str) else ""


def ymd(day: date) -> str:
    return f"{day:%Y%m%d}"
