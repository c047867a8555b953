"""Who is calling: what a verified bearer token (or an MLLP sender) tells every handler."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    client_id: str  # "anonymous" before authentication succeeds
    scopes: frozenset[str]
    roles: frozenset[str] = frozenset()
    organization: str | None = None
    source_ip: str | None = None
    request_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles
