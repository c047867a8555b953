"""IdentityStore in memory: one person per (system, value)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from adapter.errors import DuplicateKey
from adapter.storage.memory.state import Tx
from adapter.storage.records import IdentityLink, NewLink
from adapter.storage.shared import identity_key


class MemoryIdentityStore:
    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    async def link(
        self, system: str, value: str, patient_id: str, *, flagged: bool = False, note: str | None = None
    ) -> IdentityLink:
        links = self._tx.check().links
        key = identity_key(system, value)
        existing = links.get(key)
        if existing is not None:
            if existing.patient_id == patient_id:
                return existing
            raise DuplicateKey("this identifier is already linked to another patient")
        link = IdentityLink(system, value, patient_id, self._tx.clock.now(), flagged, note)
        self._tx.journal.put(links, key, link)
        return link

    async def find(self, system: str, value: str) -> IdentityLink | None:
        return self._tx.check().links.get(identity_key(system, value))

    async def find_many(
        self, keys: Sequence[tuple[str, str]], *, read_ahead: bool = False
    ) -> dict[tuple[str, str], IdentityLink]:
        links = self._tx.check().links
        found = ((key, links.get(identity_key(*key))) for key in keys)
        return {key: link for key, link in found if link is not None}

    async def link_many(self, links: Sequence[NewLink]) -> list[IdentityLink]:
        held: list[IdentityLink] = []
        for new in links:
            existing = self._tx.check().links.get(identity_key(new.system, new.value))
            if existing is None:
                existing = await self.link(
                    new.system, new.value, new.patient_id, flagged=new.flagged, note=new.note
                )
            held.append(existing)
        return held

    async def links_for(self, patient_id: str) -> list[IdentityLink]:
        return [link for link in self._tx.check().links.values() if link.patient_id == patient_id]

    async def relink(self, from_patient_id: str, to_patient_id: str) -> int:
        links = self._tx.check().links
        moving = [key for key, link in links.items() if link.patient_id == from_patient_id]
        for key in moving:
            self._tx.journal.put(links, key, replace(links[key], patient_id=to_patient_id))
        return len(moving)

    async def move(self, system: str, value: str, to_patient_id: str) -> IdentityLink | None:
        links = self._tx.check().links
        key = identity_key(system, value)
        link = links.get(key)
        if link is None:
            return None
        moved = replace(link, patient_id=to_patient_id)
        self._tx.journal.put(links, key, moved)
        return moved
