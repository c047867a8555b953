"""Client registration and authentication over the in-memory storage port."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest

from adapter.errors import InvalidClient, InvalidRequest, InvalidTokenRequest
from adapter.security.clients import ClientRegistry, client_credentials_from
from adapter.security.passwords import ScryptParams, hash_secret
from adapter.storage.memory import MemoryStorage
from adapter.storage.ports import Storage
from adapter.storage.records import ClientRecord


@pytest.fixture
async def storage() -> AsyncIterator[Storage]:
    memory = MemoryStorage()
    yield memory
    await memory.close()


async def test_add_returns_the_secret_once_and_stores_only_its_hash(storage: Storage) -> None:
    registry = ClientRegistry()
    async with storage.unit_of_work() as uow:
        client_id, secret = await registry.add(uow, "Pharmacy 1", ["pharmacy"], organization="org-9")
    async with storage.unit_of_work() as uow:
        stored = await uow.clients.get(client_id)
    assert stored is not None
    assert stored.name == "Pharmacy 1" and stored.roles == ("pharmacy",)
    assert stored.organization == "org-9" and stored.active
    assert secret not in stored.secret_hash and stored.secret_hash.startswith("scrypt$")
    assert client_id.startswith("dc-") and len(secret) >= 43


async def test_authenticate_with_the_right_secret(storage: Storage) -> None:
    registry = ClientRegistry()
    async with storage.unit_of_work() as uow:
        client_id, secret = await registry.add(uow, "HIS", ["his", "admin"])
        client = await registry.authenticate(uow, client_id, secret)
    assert client.client_id == client_id and client.roles == ("admin", "his")


async def test_unknown_id_wrong_secret_and_inactive_client_fail_alike(storage: Storage) -> None:
    registry = ClientRegistry()
    async with storage.unit_of_work() as uow:
        client_id, secret = await registry.add(uow, "Kiosk", ["sampling"])
        # The port has no update for clients: a deactivated client is written as such directly.
        await uow.clients.add(
            ClientRecord(
                client_id="dc-inactive",
                name="Old kiosk",
                roles=("sampling",),
                secret_hash=hash_secret("old-secret"),
                created_at=datetime.now(UTC),
                active=False,
            )
        )
    async with storage.unit_of_work() as uow:
        with pytest.raises(InvalidClient) as inactive:
            await registry.authenticate(uow, "dc-inactive", "old-secret")
        with pytest.raises(InvalidClient) as unknown:
            await registry.authenticate(uow, "dc-unknown", secret)
        with pytest.raises(InvalidClient) as wrong:
            await registry.authenticate(uow, client_id, secret + "x")
        with pytest.raises(InvalidClient) as huge:
            await registry.authenticate(uow, client_id, "x" * 10_000)
        with pytest.raises(InvalidClient):
            await registry.authenticate(uow, "", secret)
    messages = {str(e.value) for e in (inactive, unknown, wrong, huge)}
    assert messages == {str(InvalidClient())}


async def test_an_unknown_id_costs_as_much_as_a_wrong_secret(storage: Storage) -> None:
    # Coarse on purpose: both paths run exactly one scrypt verification (tens of ms each), while a
    # skipped verification would be orders of magnitude faster.
    registry = ClientRegistry()
    async with storage.unit_of_work() as uow:
        client_id, secret = await registry.add(uow, "HIS", ["his"])

    async def seconds(cid: str, sec: str) -> float:
        start = time.perf_counter()
        async with storage.unit_of_work() as uow:
            with pytest.raises(InvalidClient):
                await registry.authenticate(uow, cid, sec)
        return time.perf_counter() - start

    await seconds("dc-warm-up", "x")
    unknown = min([await seconds("dc-unknown", secret) for _ in range(3)])
    wrong = min([await seconds(client_id, "wrong") for _ in range(3)])
    assert unknown > wrong / 3 and wrong > unknown / 3


async def test_cheaper_parameters_can_be_chosen(storage: Storage) -> None:
    registry = ClientRegistry(params=ScryptParams(n=2**10))
    async with storage.unit_of_work() as uow:
        client_id, secret = await registry.add(uow, "Test", ["his"])
        assert (await registry.authenticate(uow, client_id, secret)).client_id == client_id
        stored = await uow.clients.get(client_id)
    assert stored is not None and stored.secret_hash.startswith("scrypt$n=1024,")


@pytest.mark.parametrize(("name", "roles"), [("X", ["root"]), ("X", []), ("  ", ["his"])])
async def test_add_validates_name_and_roles(storage: Storage, name: str, roles: list[str]) -> None:
    async with storage.unit_of_work() as uow:
        with pytest.raises(InvalidRequest):
            await ClientRegistry().add(uow, name, roles)
        assert await uow.clients.list() == []


# --- client_credentials_from -----------------------------------------------------------------------


def basic(client_id: str, secret: str, *, encode: bool = True) -> str:
    if encode:
        client_id, secret = quote_plus(client_id), quote_plus(secret)
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_basic_credentials() -> None:
    assert client_credentials_from(basic("dc-1", "s3cret"), {}) == ("dc-1", "s3cret")
    lower_scheme = basic("dc-1", "s3cret").replace("Basic", "basic")
    assert client_credentials_from(lower_scheme, {}) == ("dc-1", "s3cret")


def test_basic_credentials_are_form_urlencoded_inside() -> None:
    # RFC 6749 §2.3.1: "a:b c+d" travels as "a%3Ab+c%2Bd"; a colon in the secret survives.
    assert client_credentials_from(basic("dc-1", "a:b c+d"), {}) == ("dc-1", "a:b c+d")


def test_post_credentials() -> None:
    form = {"grant_type": "client_credentials", "client_id": "dc-1", "client_secret": "s3cret"}
    assert client_credentials_from(None, form) == ("dc-1", "s3cret")


def test_basic_with_a_matching_client_id_in_the_body_is_fine() -> None:
    assert client_credentials_from(basic("dc-1", "s"), {"client_id": "dc-1"}) == ("dc-1", "s")


@pytest.mark.parametrize("form", [{"client_id": "dc-1", "client_secret": "s"}, {"client_id": "dc-2"}])
def test_two_methods_or_two_ids_are_refused(form: dict[str, str]) -> None:
    with pytest.raises(InvalidTokenRequest):
        client_credentials_from(basic("dc-1", "s"), form)


@pytest.mark.parametrize(
    ("header", "form"),
    [
        (None, {}),
        (None, {"client_id": "dc-1"}),
        (None, {"client_secret": "s"}),
        ("Bearer abc", {}),
        ("Basic", {}),
        ("Basic !!!", {}),
        ("Basic " + base64.b64encode(b"no-colon").decode(), {}),
        ("Basic " + base64.b64encode(b":secret-only").decode(), {}),
        ("Basic " + base64.b64encode(b"id-only:").decode(), {}),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), {}),
    ],
)
def test_missing_or_malformed_credentials_are_invalid_client(
    header: str | None, form: dict[str, str]
) -> None:
    with pytest.raises(InvalidClient):
        client_credentials_from(header, form)
