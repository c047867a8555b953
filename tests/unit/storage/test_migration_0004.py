"""Migration 0004 (search_tokens WITHOUT ROWID on SQLite): a database written before it upgrades with
every token kept and findable, and downgrades back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from adapter.storage import NewResource, SearchToken, SqlStorage, Vault, downgrade, migrate
from adapter.storage.sql import make_engine


async def _table_sql(url: str) -> str:
    engine = make_engine(url, pool_size=None, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'search_tokens'"))
            ).one()
            return str(row[0])
    finally:
        await engine.dispose()


async def test_upgrade_keeps_every_token_and_downgrade_restores_the_rowid_table(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    vault = Vault.generate()
    await migrate(url, revision="0003")
    assert "WITHOUT ROWID" not in await _table_sql(url)
    storage = SqlStorage(url, vault)
    try:
        async with storage.unit_of_work() as uow:
            await uow.resources.create_many(
                [
                    NewResource(
                        {"resourceType": "Patient", "id": f"p-{n}"},
                        (SearchToken("identifier", "urn:test", f"V{n}"), SearchToken("name", None, f"n{n}")),
                    )
                    for n in range(30)
                ]
            )
    finally:
        await storage.close()

    await migrate(url)
    assert "WITHOUT ROWID" in await _table_sql(url)
    storage = SqlStorage(url, vault)
    try:
        async with storage.unit_of_work() as uow:
            for n in (0, 17, 29):
                for criterion in (
                    SearchToken("identifier", "urn:test", f"V{n}"),
                    SearchToken("identifier", None, f"V{n}"),
                    SearchToken("name", None, f"n{n}"),
                    SearchToken("name", "", f"n{n}"),
                ):
                    assert [r.id for r in await uow.resources.search("Patient", [criterion])] == [f"p-{n}"]
            # Updating replaces the tokens through the (resource_type, resource_id) index.
            await uow.resources.update(
                {"resourceType": "Patient", "id": "p-3"}, tokens=[SearchToken("name", None, "x")]
            )
        async with storage.unit_of_work() as uow:
            assert await uow.resources.search("Patient", [SearchToken("name", None, "n3")]) == []
            assert [
                r.id for r in await uow.resources.search("Patient", [SearchToken("name", None, "x")])
            ] == ["p-3"]
    finally:
        await storage.close()

    await downgrade(url, revision="0003")
    assert "WITHOUT ROWID" not in await _table_sql(url)
    storage = SqlStorage(url, vault)
    try:
        async with storage.unit_of_work() as uow:
            assert [
                r.id for r in await uow.resources.search("Patient", [SearchToken("name", None, "n17")])
            ] == ["p-17"]
    finally:
        await storage.close()
