"""Configuration of the SIMULATOR (not of the service: the sandbox never reads adapter settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_HIS_MLLP_PORT = 2576
# The EHC specification's published test root key; the protection key is made up. Synthetic only.
DEFAULT_ROOT_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
DEFAULT_PROTECTION_KEY = bytes.fromhex("53414E44424F582D50524F544543544B")


@dataclass(frozen=True)
class SandboxConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    seed: int = 2026
    people: int = 100  # population size at start-up (a saved file may hold more)
    code_ttl_s: float = 60.0  # lifetime of dynamic codes (the real lifetimes are unknown)
    static_verify_limit: int = 1000  # verifications an EHC static code allows (surplusNum)
    data_file: Path | None = None  # JSON file the population is saved to and loaded from
    his_mllp_port: int | None = None  # the simulated HIS's MLLP receiver; None = off (the CLI: 2576)
    his_mllp_host: str = DEFAULT_HOST
    his_webhook_secret: str | None = field(default=None, repr=False)  # check webhook signatures when set
    root_key: bytes = field(default=DEFAULT_ROOT_KEY, repr=False)
    protection_key: bytes = field(default=DEFAULT_PROTECTION_KEY, repr=False)
