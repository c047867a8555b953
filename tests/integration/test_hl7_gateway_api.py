"""The message store API in-process (real lifespan, in-memory storage): roles, masking, filters,
reprocessing, OperationOutcome errors and the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.app import create_app
from adapter.hl7v2.handler import Peer
from adapter.services import Services
from adapter.settings import Settings
from tests.unit.hl7v2.samples import adt

PEER = Peer("127.0.0.1", 40000)


class Api:
    def __init__(self, client: httpx.AsyncClient, services: Services) -> None:
        self.client, self.services = client, services

    def headers(self, *roles: str) -> dict[str, str]:
        issued = self.services.tokens.issue(
            "tester-" + "-".join(roles), scopes=["dualcode/admin"], roles=roles
        )
        return {"Authorization": f"Bearer {issued.token}"}

    async def get(self, path: str, *roles: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(*roles), params=params)

    async def send(self, raw: bytes) -> bytes:
        assert self.services.hl7 is not None
        return await self.services.hl7(raw, PEER)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(
        database_url="memory://",
        mllp_enabled=False,
        data_keys_file=tmp_path / "keys" / "data.json",
        blind_index_key_file=tmp_path / "keys" / "blind.key",
        token_signing_key_file=tmp_path / "keys" / "token.key",
    )
    ready: list[Services] = []
    app = create_app(settings, on_ready=ready.append)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, ready[0])


async def test_list_masks_for_his_and_not_for_admin(api: Api) -> None:
    await api.send(adt("M1", family="欧阳", given="娜娜", patient="11010519491231002X").encode())
    his = (await api.get("/api/messages", "his")).json()
    assert his["count"] == 1
    item = his["messages"][0]
    assert item["status"] == "processed" and item["raw_masked"] is True
    assert "欧阳" not in item["raw"] and "11010519491231002X" not in item["raw"]
    assert item["resources"][0] == f"Patient/{item['patient_id']}/_history/1"
    assert item["parse"]["message_type"] == "ADT^A04" and "MSA|AA|M1" in item["ack"]
    # The mapping report names what was not mapped by location only, never by value.
    assert set(item["parse"]["mapping"]) >= {"unmapped", "issues"}
    assert "11010519491231002X" not in str(item["parse"]["mapping"])
    admin = (await api.get("/api/messages", "admin")).json()["messages"][0]
    assert "欧阳^娜娜" in admin["raw"] and admin["raw_masked"] is False


async def test_filters(api: Api) -> None:
    await api.send(adt("F1").encode())
    await api.send(adt("F2", message_type="ORM", event="O01").encode())
    await api.send(adt("F3", patient="OTHER", application="LIS").encode())

    async def ids(**params: Any) -> list[str]:
        answer = await api.get("/api/messages", "his", **params)
        assert answer.status_code == 200, answer.text
        return [m["control_id"] for m in answer.json()["messages"]]

    assert await ids() == ["F3", "F2", "F1"]
    assert await ids(status="rejected") == ["F2"]
    assert await ids(type="ADT^A04") == ["F3", "F1"]
    assert await ids(sender="LIS^H001") == ["F3"]
    assert await ids(limit=1) == ["F3"]
    first = (await api.get("/api/messages", "his", status="processed")).json()["messages"][-1]
    assert await ids(patient=first["patient_id"]) == ["F1"]
    assert await ids(since="2000-01-01T00:00:00+08:00", until="2999-01-01T00:00:00Z") == ["F3", "F2", "F1"]
    naive = await api.get("/api/messages", "his", since="2000-01-01T00:00:00")
    assert naive.status_code == 400 and naive.json()["resourceType"] == "OperationOutcome"


async def test_roles_and_errors_are_operation_outcomes(api: Api) -> None:
    forbidden = await api.get("/api/messages", "pharmacy")
    assert forbidden.status_code == 403 and forbidden.json()["resourceType"] == "OperationOutcome"
    assert (await api.client.get("/api/messages")).status_code == 401
    missing = await api.get("/api/messages/nope", "admin")
    assert missing.status_code == 404 and "DC-3001" in missing.text


async def test_read_one_and_every_access_is_audited(api: Api) -> None:
    await api.send(adt("A1").encode())
    listed = (await api.get("/api/messages", "his")).json()["messages"][0]
    one = await api.get(f"/api/messages/{listed['id']}", "his")
    assert one.status_code == 200 and one.json()["control_id"] == "A1"
    await api.get("/api/messages", "pharmacy")
    await api.services.audit_writer.flush()
    async with api.services.storage.unit_of_work() as uow:
        records = await uow.audit.search(limit=50)
    operations = [(r.operation, r.outcome) for r in records if "hl7-message" in r.operation]
    assert ("read hl7-message", "0") in operations and ("search hl7-message", "0") in operations
    assert ("search hl7-message", "4") in operations  # the refused one too
    assert any(r.patient_id == listed["patient_id"] for r in records if r.operation == "read hl7-message")


async def test_reprocess_rules(api: Api) -> None:
    await api.send(adt("P1").encode())
    storage = api.services.storage
    async with storage.unit_of_work() as uow:  # a message that failed earlier (say, a mapping bug)
        failed, _ = await uow.messages.add(
            sender="HIS^H001", control_id="P2", raw=adt("P2", patient="X2").encode()
        )
        await uow.messages.set_outcome(
            failed.id, status="error", ack=b"MSH|^~\\&\rMSA|AE|P2\r", error="DC-9000"
        )
        done = await uow.messages.find("HIS^H001", "P1")
    assert done is not None

    def post(message_id: str, *roles: str, force: bool = False) -> Any:
        params = {"force": "true"} if force else {}
        return api.client.post(
            f"/api/messages/{message_id}/reprocess", headers=api.headers(*roles), params=params
        )

    again = await post(failed.id, "his")
    assert (
        again.status_code == 200 and again.json()["status"] == "processed" and again.json()["error"] is None
    )
    refused = await post(done.id, "his")
    assert refused.status_code == 400 and "force" in refused.text
    assert (await post(done.id, "his", force=True)).status_code == 403
    forced = await post(done.id, "admin", force=True)
    # Run again: the same person (the index keeps one Patient, unchanged), a processed outcome.
    assert forced.status_code == 200 and forced.json()["status"] == "processed"
    assert forced.json()["resources"][0] == done.resources[0]
