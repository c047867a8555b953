"""The gateway's group commit on SQLite, behind the real MLLP listener: messages arriving together on
several connections share one COMMIT (one fsync), each answered only once that COMMIT is done; a
message that fails in a group is rolled back alone. All data is synthetic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from adapter.hl7v2 import MllpServer, frame
from adapter.hl7v2.bindings import default_bindings
from adapter.hl7v2.gateway import Gateway
from adapter.hl7v2.handlers import AdtHandler
from adapter.hl7v2.router import Binding, BindingTable, HandlerResult, MessageContext
from adapter.hl7v2.senders import SenderTable
from adapter.mpi import PatientIndex
from adapter.security.audit import Auditor
from adapter.storage import SqlStorage, Vault
from adapter.storage.ports import UnitOfWork
from adapter.storage.sql.engine import READ_ONLY
from tests.contract.storage.databases import sqlite_database
from tests.mllp_client import raw_client
from tests.unit.hl7v2.samples import adt, msa

CONNECTIONS = 8


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqlStorage]:
    store = SqlStorage(await sqlite_database(tmp_path), Vault.generate())
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The time of each write COMMIT (a reader's end of snapshot is no commit), each made slow as a
    loaded disk's fsync is, so that messages arrive while one is in flight."""
    seen: list[float] = []
    commit = Connection.commit

    def slow(conn: Connection) -> None:
        if not conn.get_execution_options().get(READ_ONLY, False):
            time.sleep(0.03)
            seen.append(time.perf_counter())
        commit(conn)

    monkeypatch.setattr(Connection, "commit", slow)
    yield seen


async def serve(storage: SqlStorage, table: BindingTable) -> tuple[MllpServer, int]:
    gateway = Gateway(storage, table, senders=SenderTable(), auditor=Auditor())
    server = MllpServer(host="127.0.0.1", port=0, handler=gateway, idle_timeout_s=10.0)
    _, port = await server.start()
    return server, port


async def send_from_each_connection(port: int, messages: list[bytes]) -> list[tuple[bytes, float]]:
    """One message per connection, all at once; each ACK with the time it arrived."""

    def one(message: bytes) -> tuple[bytes, float]:
        (ack,) = raw_client(port, [frame(message)], 1)
        return ack, time.perf_counter()

    return list(await asyncio.gather(*(asyncio.to_thread(one, m) for m in messages)))


async def test_messages_from_eight_connections_share_commits_and_each_ack_follows_its_commit(
    storage: SqlStorage, commits: list[float]
) -> None:
    server, port = await serve(storage, default_bindings())
    try:
        await send_from_each_connection(port, [adt("WARM").encode()])
        commits.clear()
        messages = [adt(f"G{n}", patient=f"GP{n}").encode() for n in range(CONNECTIONS)]
        answers = await send_from_each_connection(port, messages)
    finally:
        await server.stop()
    assert [msa(ack) for ack, _ in answers] == [("AA", f"G{n}") for n in range(CONNECTIONS)]
    assert 1 <= len(commits) < CONNECTIONS  # grouped: fewer fsyncs than messages
    for _, acked_at in answers:  # no AA before a commit that could hold its message
        assert acked_at > commits[0]
    async with storage.unit_of_work(read_only=True) as uow:
        for n in range(CONNECTIONS):
            stored = await uow.messages.find("HIS^H001", f"G{n}")
            assert stored is not None and stored.status == "processed"
            assert stored.patient_id is not None
            patient = await uow.resources.read("Patient", stored.patient_id)
            assert patient.body["identifier"][0]["value"] == f"GP{n}"


async def test_a_message_failing_in_a_group_is_rolled_back_alone_and_stored_with_its_error(
    storage: SqlStorage, commits: list[float]
) -> None:
    adt_patient = AdtHandler(PatientIndex())

    async def fails_for_gp3(context: MessageContext, uow: UnitOfWork) -> HandlerResult:
        result = await adt_patient(context, uow)  # writes first, then fails: must leave nothing
        if context.msh.control_id == "G3":
            raise RuntimeError("boom")
        return result

    server, port = await serve(storage, BindingTable([Binding(fails_for_gp3, "adt")]))
    try:
        messages = [adt(f"G{n}", patient=f"GP{n}").encode() for n in range(CONNECTIONS)]
        answers = await send_from_each_connection(port, messages)
    finally:
        await server.stop()
    codes = {msa(ack)[1]: msa(ack)[0] for ack, _ in answers}
    assert codes == {f"G{n}": "AE" if n == 3 else "AA" for n in range(CONNECTIONS)}
    assert len(commits) < CONNECTIONS  # one at a time it would be 9: eight messages, one error record
    async with storage.unit_of_work(read_only=True) as uow:
        failed = await uow.messages.find("HIS^H001", "G3")
        assert failed is not None and failed.status == "error" and failed.patient_id is None
        numbers = set()
        for patient in await uow.resources.search("Patient", []):
            numbers.update(i["value"] for i in patient.body["identifier"])
        assert "GP3" not in numbers  # its Patient went with its savepoint
        assert {f"GP{n}" for n in range(CONNECTIONS) if n != 3} <= numbers
