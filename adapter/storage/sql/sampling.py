"""SamplingStore on SQL: two tables; the tube row is the lock registrations into one tube queue on.

No personal data is stored here: the person is a Patient id, the name only in its masked form.

The scan's hot path is ``place``: one ``UPDATE … RETURNING`` counts the person into an open tube
with room (and takes its row lock on PostgreSQL), one ``INSERT … ON CONFLICT DO NOTHING`` stores the
registration; the uniqueness constraints do the race work, not extra reads. Statements are built
once, at import, so SQLAlchemy reuses their compiled form (no per-call construction or cache key).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    delete,
    exists,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapter.errors import DuplicateKey, ResourceNotFound
from adapter.storage.records import SamplingPlacement, SamplingRegistration, SamplingTube
from adapter.storage.shared import utc
from adapter.storage.sql.context import SqlContext
from adapter.storage.sql.prepared import PreparedRead, PreparedWrite
from adapter.storage.sql.schema import metadata
from adapter.storage.sql.types import BigId, UtcDateTime

sampling_tubes = Table(
    "sampling_tubes",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("barcode", Text, nullable=False, unique=True),
    Column("round", Text, nullable=False),
    Column("point", Text, nullable=False),
    Column("pool_size", Integer, nullable=False),
    Column("filled", Integer, nullable=False),
    Column("status", String(), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("result", String(), nullable=True),
    Column("resulted_at", UtcDateTime, nullable=True),
    Index(None, "status", "seq"),
    Index(None, "round", "seq"),
)

sampling_registrations = Table(
    "sampling_registrations",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("tube", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("patient_id", String(), nullable=False),
    Column("round", Text, nullable=False),
    Column("point", Text, nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("name_masked", Text, nullable=False),
    Column("client_ref", Text, nullable=True, unique=True),
    Column("scanned_at", UtcDateTime, nullable=True),
    UniqueConstraint("tube", "position"),
    UniqueConstraint("tube", "patient_id"),
    Index(None, "patient_id", "round"),
)

T = sampling_tubes.c
R = sampling_registrations.c


# The hot path's statements, built once and run as prepared statements (``prepared``: on SQLite
# through the stdlib driver itself, ~15 µs a statement instead of ~60 µs through SQLAlchemy's
# execution). Parameter names differ from column names (SQLAlchemy reserves those for SET/VALUES).
_ADVANCE: Final = PreparedWrite(
    update(sampling_tubes)
    .where(
        T.barcode == bindparam("p_barcode"),
        T.status == "open",
        T.filled < T.pool_size,
        T.pool_size == bindparam("p_pool_size"),
        T.point == bindparam("p_point"),
    )
    .values(filled=T.filled + 1, status=case((T.filled + 1 >= T.pool_size, "full"), else_=T.status))
    .returning(*sampling_tubes.c)
)
_TAKE_BACK: Final = PreparedWrite(  # undo _ADVANCE in the same transaction: the tube was open before it
    update(sampling_tubes)
    .where(T.barcode == bindparam("p_barcode"))
    .values(filled=T.filled - 1, status="open")
)
_DROP_TUBE: Final = PreparedWrite(delete(sampling_tubes).where(T.barcode == bindparam("p_barcode")))
_GET_TUBE: Final = PreparedRead(select(sampling_tubes).where(T.barcode == bindparam("p_barcode")))
_MEMBER: Final = PreparedRead(
    select(sampling_registrations).where(
        R.tube == bindparam("p_tube"), R.patient_id == bindparam("p_patient")
    )
)
_BY_REF: Final = PreparedRead(select(sampling_registrations).where(R.client_ref == bindparam("p_ref")))
_BY_REFS: Final = select(sampling_registrations).where(R.client_ref.in_(bindparam("p_refs", expanding=True)))
_TUBES_OF: Final = PreparedRead(
    select(R.tube)
    .where(R.patient_id == bindparam("p_patient"), R.round == bindparam("p_round"))
    .order_by(R.seq)
)
_REGISTRATION_COLUMNS: Final = (
    "id", "tube", "position", "patient_id", "round", "point", "registered_at", "actor", "name_masked",
    "client_ref", "scanned_at",
)  # fmt: skip
_TUBE_COLUMNS: Final = ("barcode", "round", "point", "pool_size", "filled", "status", "opened_at")


def _inserts(dialect: Any) -> tuple[PreparedWrite, PreparedWrite]:
    """(new tube unless the barcode exists, registration unless any uniqueness rule clashes)."""
    tube = dialect.insert(sampling_tubes).on_conflict_do_nothing(index_elements=["barcode"])
    tube = tube.values({name: bindparam(name, type_=T[name].type) for name in _TUBE_COLUMNS})
    registration = dialect.insert(sampling_registrations).on_conflict_do_nothing()
    registration = registration.values(
        {name: bindparam(name, type_=R[name].type) for name in _REGISTRATION_COLUMNS}
    )
    # Whether the person is in another tube of the round too, in the same statement (no second trip
    # for the "same person in two tubes" flag of nearly every scan, where the answer is no).
    other = sampling_registrations.alias("other")
    elsewhere = exists().where(
        other.c.patient_id == bindparam("patient_id", type_=R.patient_id.type),
        other.c.round == bindparam("round", type_=R.round.type),
        other.c.tube != bindparam("tube", type_=R.tube.type),
    )
    return (
        PreparedWrite(tube.returning(*sampling_tubes.c)),
        PreparedWrite(registration.returning(R.seq, elsewhere.label("in_other_tubes"))),
    )


_PG_INSERTS: Final = _inserts(postgresql)
_SQLITE_INSERTS: Final = _inserts(sqlite)
PLACE_ATTEMPTS: Final = 3  # a tube another writer created meanwhile: once more, as an existing tube
REFS_PER_QUERY: Final = 500


class SqlSamplingStore:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: SqlContext) -> None:
        self._ctx = ctx

    async def open_tube(self, *, barcode: str, round: str, point: str, pool_size: int) -> SamplingTube:
        ctx = self._ctx
        values = {
            "barcode": barcode,
            "round": round,
            "point": point,
            "pool_size": pool_size,
            "filled": 0,
            "status": "open",
            "opened_at": ctx.clock.now(),
        }
        await ctx.execute(ctx.insert_ignoring(sampling_tubes, "barcode").values(**values))
        tube = await self.lock_tube(barcode)
        if tube is None:  # pragma: no cover - inserted or present just above
            raise ResourceNotFound("no such tube")
        return tube

    async def lock_tube(self, barcode: str) -> SamplingTube | None:
        statement = select(sampling_tubes).where(T.barcode == barcode).with_for_update()
        row = (await self._ctx.execute(statement)).first()
        return None if row is None else _tube(row)

    async def get_tube(self, barcode: str) -> SamplingTube | None:
        rows = await self._ctx.fetch(_GET_TUBE, {"p_barcode": barcode})
        return _tube(rows[0]) if rows else None

    async def add(self, registration: SamplingRegistration) -> SamplingRegistration:
        ctx = self._ctx
        values = _registration_values(registration)
        counted = (
            update(sampling_tubes)
            .where(T.barcode == registration.tube)
            .values(
                filled=T.filled + 1,
                status=case((and_(T.status == "open", T.filled + 1 >= T.pool_size), "full"), else_=T.status),
            )
            .returning(T.seq)
        )
        if (await ctx.execute(counted)).first() is None:
            raise ResourceNotFound("no such tube")
        await ctx.execute(sampling_registrations.insert().values(**values))
        return registration

    async def place(self, registration: SamplingRegistration, *, pool_size: int) -> SamplingPlacement:
        ctx = self._ctx
        insert_tube, insert_registration = _PG_INSERTS if ctx.is_postgres else _SQLITE_INSERTS
        key = {"p_barcode": registration.tube}
        for _ in range(PLACE_ATTEMPTS):
            wanted = {**key, "p_pool_size": pool_size, "p_point": registration.point}
            rows = await ctx.write(_ADVANCE, wanted)
            if rows:  # counted in: the common case
                tube = _tube(rows[0])
                placed = replace(registration, position=tube.filled, round=tube.round)
                if inserted := await ctx.write(insert_registration, _registration_values(placed)):
                    return SamplingPlacement(tube, placed, True, bool(inserted[0].in_other_tubes))
                await ctx.write(_TAKE_BACK, key)  # known person or client_ref: nothing new
                return await self._known(registration)
            found = await ctx.fetch(_GET_TUBE, key)
            if not found:  # a new tube
                values = {
                    "barcode": registration.tube,
                    "round": registration.round,
                    "point": registration.point,
                    "pool_size": pool_size,
                    "filled": 1,
                    "status": "full" if pool_size <= 1 else "open",
                    "opened_at": ctx.clock.now(),
                }
                rows = await ctx.write(insert_tube, values)
                if not rows:
                    continue  # created by another writer meanwhile (PostgreSQL)
                tube = _tube(rows[0])
                placed = replace(registration, position=1, round=tube.round)
                if inserted := await ctx.write(insert_registration, _registration_values(placed)):
                    return SamplingPlacement(tube, placed, True, bool(inserted[0].in_other_tubes))
                await ctx.write(_DROP_TUBE, key)  # its client_ref is stored: nothing new
                return await self._known(registration)
            tube = _tube(found[0])
            member = await self.member(tube.barcode, registration.patient_id)
            if member is not None or not _accepts(tube, registration.point, pool_size):
                return SamplingPlacement(tube, member, created=False)
        raise DuplicateKey("the tube kept changing while this registration was placed")  # pragma: no cover

    async def _known(self, registration: SamplingRegistration) -> SamplingPlacement:
        """The registration that made an insert clash: the person's in this tube, or the client_ref's."""
        found = await self.member(registration.tube, registration.patient_id)
        if found is None and registration.client_ref is not None:
            found = await self.by_client_ref(registration.client_ref)
        if found is None:
            raise DuplicateKey("this registration clashes with one already stored")
        tube = await self.get_tube(found.tube)
        assert tube is not None  # a registration's tube exists
        return SamplingPlacement(tube, found, created=False)

    async def by_client_refs(self, client_refs: Sequence[str]) -> dict[str, SamplingRegistration]:
        found: dict[str, SamplingRegistration] = {}
        refs = list(dict.fromkeys(client_refs))
        for start in range(0, len(refs), REFS_PER_QUERY):
            chunk = refs[start : start + REFS_PER_QUERY]
            for row in await self._ctx.execute(_BY_REFS, {"p_refs": chunk}):
                found[row.client_ref] = _registration(row)
        return found

    async def set_status(self, barcode: str, status: str, *, at: datetime) -> SamplingTube:
        values: dict[str, Any] = {"status": status}
        if status == "closed":
            values["closed_at"] = utc(at)
        return await self._update(barcode, values)

    async def set_result(self, barcode: str, result: str, *, at: datetime) -> SamplingTube:
        return await self._update(barcode, {"result": result, "resulted_at": utc(at)})

    async def member(self, tube: str, patient_id: str) -> SamplingRegistration | None:
        rows = await self._ctx.fetch(_MEMBER, {"p_tube": tube, "p_patient": patient_id})
        return _registration(rows[0]) if rows else None

    async def by_client_ref(self, client_ref: str) -> SamplingRegistration | None:
        rows = await self._ctx.fetch(_BY_REF, {"p_ref": client_ref})
        return _registration(rows[0]) if rows else None

    async def members(self, tube: str) -> builtins.list[SamplingRegistration]:
        statement = select(sampling_registrations).where(R.tube == tube).order_by(R.position)
        return [_registration(row) for row in await self._ctx.execute(statement)]

    async def tubes_of(self, patient_id: str, round: str) -> builtins.list[str]:
        rows = await self._ctx.fetch(_TUBES_OF, {"p_patient": patient_id, "p_round": round})
        return [row.tube for row in rows]

    async def list_tubes(
        self,
        *,
        status: str | None = None,
        round: str | None = None,
        result: str | None = None,
        closed_since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[SamplingTube]:
        statement = select(sampling_tubes).order_by(T.seq).limit(limit)
        if status is not None:
            statement = statement.where(T.status == status)
        if round is not None:
            statement = statement.where(T.round == round)
        if result is not None:
            statement = statement.where(T.result == result)
        if closed_since is not None:
            statement = statement.where(T.closed_at >= utc(closed_since))
        return [_tube(row) for row in await self._ctx.execute(statement)]

    async def _update(self, barcode: str, values: dict[str, Any]) -> SamplingTube:
        statement = update(sampling_tubes).where(T.barcode == barcode).values(**values).returning(T.seq)
        if (await self._ctx.execute(statement)).first() is None:
            raise ResourceNotFound("no such tube")
        tube = await self.get_tube(barcode)
        assert tube is not None  # updated just above, in this transaction
        return tube


def _accepts(tube: SamplingTube, point: str, pool_size: int) -> bool:
    """What _ADVANCE's WHERE asks of a tube."""
    return (
        tube.status == "open"
        and tube.filled < tube.pool_size
        and tube.pool_size == pool_size
        and tube.point == point
    )


def _registration_values(registration: SamplingRegistration) -> dict[str, Any]:
    return {
        "id": registration.id,
        "tube": registration.tube,
        "position": registration.position,
        "patient_id": registration.patient_id,
        "round": registration.round,
        "point": registration.point,
        "registered_at": registration.registered_at,
        "actor": registration.actor,
        "name_masked": registration.name_masked,
        "client_ref": registration.client_ref,
        "scanned_at": registration.scanned_at,
    }


def _tube(row: Any) -> SamplingTube:
    return SamplingTube(
        barcode=row.barcode,
        round=row.round,
        point=row.point,
        pool_size=row.pool_size,
        opened_at=row.opened_at,
        filled=row.filled,
        status=row.status,
        closed_at=row.closed_at,
        result=row.result,
        resulted_at=row.resulted_at,
        seq=row.seq,
    )


def _registration(row: Any) -> SamplingRegistration:
    return SamplingRegistration(
        id=row.id,
        tube=row.tube,
        position=row.position,
        patient_id=row.patient_id,
        round=row.round,
        point=row.point,
        registered_at=row.registered_at,
        actor=row.actor,
        name_masked=row.name_masked,
        client_ref=row.client_ref,
        scanned_at=row.scanned_at,
    )
