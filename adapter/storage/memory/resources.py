"""FhirRepository in memory: versioned resources and their token index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapter.errors import (
    DuplicateKey,
    MultipleMatches,
    ResourceGone,
    ResourceNotFound,
    VersionConflict,
)
from adapter.json_codec import dump_json, load_json
from adapter.storage.memory.state import Tx, Version
from adapter.storage.records import NewResource, SearchToken, StoredResource
from adapter.storage.shared import (
    body_id,
    criteria_keys,
    resource_type_of,
    stamp,
    token_keys,
    tombstone,
)


class MemoryFhirRepository:
    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    async def create(
        self,
        body: dict[str, Any],
        *,
        tokens: Sequence[SearchToken] = (),
        if_none_exist: Sequence[SearchToken] = (),
    ) -> tuple[StoredResource, bool]:
        resource_type = resource_type_of(body)
        if if_none_exist:
            matches = await self.search(resource_type, if_none_exist, limit=2)
            if len(matches) > 1:
                raise MultipleMatches()
            if matches:
                return matches[0], False
        resource_id = body_id(body, required=False)
        if resource_id in self._tx.check().versions.get(resource_type, {}):
            raise DuplicateKey("a resource with this id already exists")
        return self._write(resource_type, resource_id, 1, body, tokens, deleted=False), True

    async def create_many(self, items: Sequence[NewResource]) -> int:
        versions = self._tx.check().versions
        for item in items:
            resource_type = resource_type_of(item.body)
            resource_id = body_id(item.body, required=True)
            if resource_id in versions.get(resource_type, {}):
                raise DuplicateKey("a resource with this id already exists")
            self._write(resource_type, resource_id, 1, item.body, item.tokens, deleted=False)
        return len(items)

    async def read(self, resource_type: str, resource_id: str) -> StoredResource:
        version = self._versions(resource_type, resource_id)[-1]
        if version.deleted:
            raise ResourceGone()
        return _stored(resource_type, version)

    async def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        versions = self._versions(resource_type, resource_id)
        if not 1 <= version_id <= len(versions):
            raise ResourceNotFound("no such version")
        version = versions[version_id - 1]
        if version.deleted:
            raise ResourceGone()
        return _stored(resource_type, version)

    async def update(
        self,
        body: dict[str, Any],
        *,
        tokens: Sequence[SearchToken] = (),
        if_match: int | None = None,
    ) -> tuple[StoredResource, bool]:
        resource_type = resource_type_of(body)
        resource_id = body_id(body, required=True)
        versions = self._tx.check().versions.get(resource_type, {}).get(resource_id)
        current = versions[-1].version_id if versions else 0
        if if_match is not None and if_match != current:
            raise VersionConflict()
        stored = self._write(resource_type, resource_id, current + 1, body, tokens, deleted=False)
        return stored, current == 0

    async def delete(self, resource_type: str, resource_id: str) -> StoredResource:
        current = self._versions(resource_type, resource_id)[-1]
        if current.deleted:
            return _stored(resource_type, current)
        body = tombstone(resource_type, resource_id)
        return self._write(resource_type, resource_id, current.version_id + 1, body, (), deleted=True)

    async def search(
        self,
        resource_type: str,
        criteria: Sequence[SearchToken],
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredResource]:
        return [
            _stored(resource_type, v)
            for v in self._matching(resource_type, criteria)[offset : offset + limit]
        ]

    async def current_version(self, resource_type: str, resource_id: str) -> int | None:
        versions = self._tx.check().versions.get(resource_type, {}).get(resource_id)
        if not versions or versions[-1].deleted:
            return None
        return versions[-1].version_id

    async def search_versions(
        self, resource_type: str, criteria: Sequence[SearchToken], *, limit: int = 100
    ) -> list[tuple[str, int]]:
        return [(v.resource_id, v.version_id) for v in self._matching(resource_type, criteria)[:limit]]

    def _matching(self, resource_type: str, criteria: Sequence[SearchToken]) -> list[Version]:
        """Current live versions matching every criterion, in search order."""
        state = self._tx.check()
        by_id = state.versions.get(resource_type, {})
        ids: set[str] | None = None
        for param, keys in criteria_keys(criteria):
            found = set().union(*(state.index.get((resource_type, param, key), ()) for key in keys))
            ids = found if ids is None else ids & found
        candidates = by_id.keys() if ids is None else ids
        current = [by_id[i][-1] for i in candidates]
        live = [v for v in current if not v.deleted]
        live.sort(key=lambda v: (v.last_updated, v.resource_id), reverse=True)
        return live

    async def history(self, resource_type: str, resource_id: str) -> list[StoredResource]:
        versions = self._versions(resource_type, resource_id)
        return [_stored(resource_type, v) for v in reversed(versions)]

    def _versions(self, resource_type: str, resource_id: str) -> list[Version]:
        versions = self._tx.check().versions.get(resource_type, {}).get(resource_id)
        if not versions:
            raise ResourceNotFound()
        return versions

    def _write(
        self,
        resource_type: str,
        resource_id: str,
        version_id: int,
        body: dict[str, Any],
        tokens: Sequence[SearchToken],
        *,
        deleted: bool,
    ) -> StoredResource:
        tx = self._tx
        now = tx.clock.now()
        stamped = stamp(body, resource_id=resource_id, version_id=version_id, last_updated=now)
        version = Version(resource_id, version_id, now, deleted, dump_json(stamped))
        by_id = tx.state.versions.setdefault(resource_type, {})
        if resource_id not in by_id:
            tx.journal.put(by_id, resource_id, [])
        tx.journal.append(by_id[resource_id], version)
        self._reindex(resource_type, resource_id, frozenset(token_keys(tokens)))
        return _stored(resource_type, version)

    def _reindex(self, resource_type: str, resource_id: str, keys: frozenset[tuple[str, str]]) -> None:
        state, journal = self._tx.state, self._tx.journal
        old = state.indexed.get((resource_type, resource_id), frozenset())
        for param, key in old - keys:
            journal.discard(state.index[(resource_type, param, key)], resource_id)
        for param, key in keys - old:
            journal.add(state.index.setdefault((resource_type, param, key), set()), resource_id)
        journal.put(state.indexed, (resource_type, resource_id), keys)


def _stored(resource_type: str, version: Version) -> StoredResource:
    return StoredResource(
        resource_type=resource_type,
        id=version.resource_id,
        version_id=version.version_id,
        last_updated=version.last_updated,
        body=load_json(version.body),
        deleted=version.deleted,
    )
