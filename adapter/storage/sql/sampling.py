"""SamplingStore on SQL: two tables; the tube row is the lock registrations into one tube queue on.

No personal data is stored here: the person is a Patient id, the name only in its masked form.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    select,
    update,
)
from sqlalchemy.engine import Row

from adapter.errors import ResourceNotFound
from adapter.storage.records import SamplingRegistration, SamplingTube
from adapter.storage.shared import utc
from adapter.storage.sql.context import SqlContext
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
        row = (await self._ctx.execute(select(sampling_tubes).where(T.barcode == barcode))).first()
        return None if row is None else _tube(row)

    async def add(self, registration: SamplingRegistration) -> SamplingRegistration:
        ctx = self._ctx
        values = {
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

    async def set_status(self, barcode: str, status: str, *, at: datetime) -> SamplingTube:
        values: dict[str, Any] = {"status": status}
        if status == "closed":
            values["closed_at"] = utc(at)
        return await self._update(barcode, values)

    async def set_result(self, barcode: str, result: str, *, at: datetime) -> SamplingTube:
        return await self._update(barcode, {"result": result, "resulted_at": utc(at)})

    async def member(self, tube: str, patient_id: str) -> SamplingRegistration | None:
        statement = select(sampling_registrations).where(R.tube == tube, R.patient_id == patient_id)
        row = (await self._ctx.execute(statement)).first()
        return None if row is None else _registration(row)

    async def by_client_ref(self, client_ref: str) -> SamplingRegistration | None:
        statement = select(sampling_registrations).where(R.client_ref == client_ref)
        row = (await self._ctx.execute(statement)).first()
        return None if row is None else _registration(row)

    async def members(self, tube: str) -> builtins.list[SamplingRegistration]:
        statement = select(sampling_registrations).where(R.tube == tube).order_by(R.position)
        return [_registration(row) for row in await self._ctx.execute(statement)]

    async def tubes_of(self, patient_id: str, round: str) -> builtins.list[str]:
        statement = select(R.tube).where(R.patient_id == patient_id, R.round == round).order_by(R.seq)
        return [row.tube for row in await self._ctx.execute(statement)]

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


def _tube(row: Row[Any]) -> SamplingTube:
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


def _registration(row: Row[Any]) -> SamplingRegistration:
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
