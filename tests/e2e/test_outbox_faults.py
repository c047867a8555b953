"""Fault tests of hospital delivery, with `dualcode serve` as a real process (SQLite) and the
SIMULATED HIS's MLLP receiver on loopback:

1. the HIS goes away for the length of 1,000 events and comes back: all 1,000 arrive at each
   hospital, in per-patient order, none accepted twice;
2. kill -9 of the service mid-batch, restart on the same database: the same;
3. a HIS that answers AE forever: dead letters after the limit, in /metrics and GET /api/outbox,
   and a retry (API and `dualcode outbox retry --dead`) sends them again.

Events are written into the service's database the way the patient index writes them (a Patient and
a "*" event per change); the service's dispatcher fans them out and delivers them.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from adapter.settings import Settings
from adapter.storage import SqlStorage, Storage
from adapter.storage.keys import load_vault
from sandbox.his import BackgroundHisMllp, HisState
from tests.e2e.harness import RunningService, start_service
from tests.unit.his_connectors.samples import patient

pytestmark = pytest.mark.e2e
HOSPITALS = ("H0001", "H0002")
EVENTS, PATIENTS = 1000, 50


@pytest.fixture(scope="module")
def his() -> Iterator[BackgroundHisMllp]:
    receiver = BackgroundHisMllp(HisState(), "127.0.0.1", 0).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def connectors_file(path: Path, port: int, hospitals: tuple[str, ...] = HOSPITALS) -> Path:
    lines = []
    for code in hospitals:
        lines += [
            f"[hospitals.{code}]",
            f"[[hospitals.{code}.destinations]]",
            'name = "adt"',
            'connector = "mllp"',
            f'endpoint = "mllp://127.0.0.1:{port}"',
            "timeout_s = 2",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start(data_dir: Path, his: BackgroundHisMllp, **env: str) -> RunningService:
    return start_service(
        data_dir,
        {
            "DUALCODE_CONNECTORS_FILE": str(connectors_file(data_dir / "connectors.toml", his.port)),
            "DUALCODE_OUTBOX_BACKOFF_BASE_S": "0.05",
            "DUALCODE_OUTBOX_BACKOFF_MAX_S": "0.5",
            "DUALCODE_OUTBOX_MAX_ATTEMPTS": "1000",
            "DUALCODE_OUTBOX_POLL_INTERVAL_S": "0.05",
            "DUALCODE_OUTBOX_LEASE_S": "3",
            **env,
        },
    )


@pytest.fixture
async def storage_of(tmp_path: Path) -> AsyncIterator[dict[str, Storage]]:
    opened: dict[str, Storage] = {}
    yield opened
    for storage in opened.values():
        await storage.close()


def open_db(service: RunningService, opened: dict[str, Storage]) -> Storage:
    """The service's own database and keys, opened from the test (a second process on the file)."""
    env = service.env
    settings = Settings(
        database_url=env["DUALCODE_DATABASE_URL"],
        data_keys_file=Path(env["DUALCODE_DATA_KEYS_FILE"]),
        blind_index_key_file=Path(env["DUALCODE_BLIND_INDEX_KEY_FILE"]),
        token_signing_key_file=Path(env["DUALCODE_TOKEN_SIGNING_KEY_FILE"]),
        create_missing_keys=False,
    )
    url = settings.database_url
    if url not in opened:
        opened[url] = SqlStorage(url, load_vault(settings))
    return opened[url]


async def write_events(storage: Storage, first: int, count: int, patients: int, prefix: str) -> None:
    async with storage.unit_of_work() as uow:
        for n in range(patients):
            body = patient(n)
            body["id"] = f"{prefix}{n}"
            await uow.resources.update(body)
    for start_at in range(first, first + count, 100):
        async with storage.unit_of_work() as uow:
            for i in range(start_at, min(first + count, start_at + 100)):
                key = f"Patient/{prefix}{i % patients}"
                await uow.outbox.add(
                    topic="patient.updated",
                    destination="*",
                    ordering_key=key,
                    payload={"patient": key, "n": i},
                )


async def wait_until(condition: object, timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.1)


async def assert_once_in_order(storage: Storage, state: HisState, expected: int) -> None:
    """Each hospital accepted ``expected`` distinct events, each once, per patient in outbox order."""
    async with storage.unit_of_work(read_only=True) as uow:
        for hospital in HOSPITALS:
            events = await uow.outbox.list(destination=f"{hospital}:adt", limit=100_000)
            assert len(events) == expected and {e.status for e in events} == {"delivered"}
            key_of = {e.id[:20]: e.ordering_key for e in events}
            wanted: dict[str, list[str]] = {}
            for event in events:  # oldest first
                wanted.setdefault(event.ordering_key, []).append(event.id[:20])
            accepted = [r for r in reversed(state.received(hospital, 1_000_000)) if r.answered == "AA"]
            firsts = [r.key for r in accepted if not r.duplicate]
            assert len(firsts) == len(set(firsts)) == expected == state.accepted_keys(hospital)
            seen: dict[str, list[str]] = {}
            for key in firsts:
                seen.setdefault(key_of[key], []).append(key)
            assert seen == wanted


async def test_an_outage_then_a_kill_lose_nothing(
    tmp_path: Path, his: BackgroundHisMllp, storage_of: dict[str, Storage]
) -> None:
    service = start(tmp_path, his)
    try:
        storage = open_db(service, storage_of)
        # 1. The HIS is away while 1,000 events are written; they wait, retried, and all arrive.
        his.go_away()
        await write_events(storage, 0, EVENTS, PATIENTS, "out")
        await asyncio.sleep(1.0)  # attempts fail meanwhile (connection refused)
        assert all(his.server.state.accepted_keys(h) == 0 for h in HOSPITALS)
        his.come_back()
        await wait_until(
            lambda: all(his.server.state.accepted_keys(h) >= EVENTS for h in HOSPITALS), 120, "outage backlog"
        )
        await wait_until(lambda: _settled(service), 30, "settled")
        await assert_once_in_order(storage, his.server.state, EVENTS)

        # 2. kill -9 mid-batch; the restarted service resumes from the database.
        await write_events(storage, EVENTS, EVENTS, PATIENTS, "out")
        await wait_until(
            lambda: min(his.server.state.accepted_keys(h) for h in HOSPITALS) >= EVENTS + 100, 60, "mid-batch"
        )
        service.process.send_signal(signal.SIGKILL)
        service.process.wait(timeout=10)
        assert min(his.server.state.accepted_keys(h) for h in HOSPITALS) < 2 * EVENTS  # it was mid-batch
        service = start(tmp_path, his)
        await wait_until(
            lambda: all(his.server.state.accepted_keys(h) >= 2 * EVENTS for h in HOSPITALS),
            120,
            "after restart",
        )
        await wait_until(lambda: _settled(service), 30, "settled after restart")
        await assert_once_in_order(storage, his.server.state, 2 * EVENTS)
    finally:
        service.stop()


def _settled(service: RunningService) -> bool:
    metrics = httpx.get(f"{service.base_url}/metrics", timeout=5).text
    return 'dualcode_outbox_events{status="pending"} 0.0' in metrics and (
        'dualcode_outbox_events{status="delivering"} 0.0' in metrics
    )


async def test_ae_forever_ends_in_dead_letters(
    tmp_path: Path, his: BackgroundHisMllp, storage_of: dict[str, Storage]
) -> None:
    his.server.state.set_mode("H0002", "refuse")
    service = start(tmp_path, his, DUALCODE_OUTBOX_MAX_ATTEMPTS="3")
    try:
        storage = open_db(service, storage_of)
        await write_events(storage, 0, 4, 2, "ae")
        token = service.token("admin", name="outbox-admin")
        headers = {"Authorization": f"Bearer {token}"}

        def dead() -> list[dict[str, object]]:
            answer = httpx.get(
                f"{service.base_url}/api/outbox", params={"status": "dead"}, headers=headers, timeout=5
            )
            assert answer.status_code == 200
            events: list[dict[str, object]] = answer.json()["events"]
            return events

        # Per patient one event is in flight; a dead one releases its key, so all four die in turn.
        await wait_until(lambda: len(dead()) == 4, 60, "dead letters")
        events = dead()
        assert {e["destination"] for e in events} == {"H0002:adt"}
        assert {e["attempts"] for e in events} == {3} and {e["lastError"] for e in events} == {
            "AE: simulated refusal"
        }
        await wait_until(
            lambda: 'dualcode_outbox_events{status="dead"} 4.0' in _metrics(service), 10, "gauge"
        )
        metrics = _metrics(service)
        assert (
            'dualcode_outbox_delivery_attempts_total{destination="H0002:adt",outcome="dead"} 4.0' in metrics
        )
        assert _call("GET", f"{service.base_url}/api/outbox?status=dead").status_code == 401

        his.server.state.set_mode("H0002", "ok")
        retried = _call("POST", f"{service.base_url}/api/outbox/{events[0]['id']}/retry", headers)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        again = _call("POST", f"{service.base_url}/api/outbox/{events[0]['id']}/retry", headers)
        assert again.status_code == 400  # not dead any more
        await wait_until(lambda: len(dead()) == 3, 30, "one retried")
        assert '"retried": 3' in service.cli("outbox", "retry", "--dead")
        await wait_until(lambda: not dead(), 30, "all retried")
        await wait_until(lambda: his.server.state.accepted_keys("H0002") >= 4, 30, "delivered after retry")
    finally:
        his.server.state.set_mode("*", "ok")
        service.stop()


def _metrics(service: RunningService) -> str:
    return httpx.get(f"{service.base_url}/metrics", timeout=5).text


def _call(method: str, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.request(method, url, headers=headers, timeout=5)
