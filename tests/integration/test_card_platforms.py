"""Every card platform client against the sandbox (the SIMULATOR) served by uvicorn on a free
loopback port, over real HTTP: happy paths, expiry, replay, forgery, suspension, slowness, outage.
All people are synthetic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from adapter.cards import (
    CardPlatformConfig,
    CardPlatforms,
    CardProblem,
    EhcClient,
    EsscClient,
    NhsaClient,
    ScanContext,
    SscReader,
    card_problem_of,
    detect_kind,
)
from adapter.errors import DualcodeError, UpstreamUnavailable
from mappings.codes import IdentifierKey
from sandbox.config import SandboxConfig
from sandbox.server import BackgroundSandbox

HOSPITAL = "H37160200001"
CONTEXT = ScanContext(organization=HOSPITAL, step="registration")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(SandboxConfig(port=0, seed=7, people=12)) as running:
        yield running


@pytest.fixture
async def control(sandbox: BackgroundSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        yield client
        # Leave the simulator normal for the next test.
        await client.post("/sandbox/faults", json={"platform": "*", "mode": "ok"})


@pytest.fixture
def config(sandbox: BackgroundSandbox) -> CardPlatformConfig:
    return CardPlatformConfig.for_sandbox(sandbox.url, timeout_s=2.0, retry_backoff_s=0.01)


@pytest.fixture
async def essc(config: CardPlatformConfig) -> AsyncIterator[EsscClient]:
    client = EsscClient(config)
    yield client
    await client.aclose()


@pytest.fixture
async def ehc(config: CardPlatformConfig) -> AsyncIterator[EhcClient]:
    client = EhcClient(config)
    yield client
    await client.aclose()


@pytest.fixture
async def nhsa(config: CardPlatformConfig) -> AsyncIterator[NhsaClient]:
    client = NhsaClient(config)
    yield client
    await client.aclose()


async def people(control: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await control.get("/sandbox/people", params={"limit": 12})
    assert answer.headers["X-Simulator"] == "dualcode-sandbox"
    found: list[dict[str, Any]] = answer.json()["people"]
    return found


async def issue(control: httpx.AsyncClient, kind: str, id_number: str, **extra: Any) -> str:
    answer = await control.post("/sandbox/codes", json={"kind": kind, "id_number": id_number, **extra})
    assert answer.status_code == 200, answer.text
    code: str = answer.json()["code"]
    return code


def problem(error: pytest.ExceptionInfo[DualcodeError]) -> CardProblem | None:
    return card_problem_of(error.value)


# --- happy paths --------------------------------------------------------------------------------------


async def test_essc_code_names_the_holder_and_keeps_the_code_as_a_token(
    control: httpx.AsyncClient, essc: EsscClient
) -> None:
    person = (await people(control))[0]
    code = await issue(control, "essc", person["id_number"])
    assert detect_kind(code, default="essc") == "essc"
    holder = await essc.verify(code, CONTEXT)
    assert holder.kind == "essc" and holder.name == person["name"]
    assert holder.id_number is not None and holder.id_number.number == person["id_number"]
    assert holder.identifier(IdentifierKey.SSC_CARD_NUMBER) == person["ssc_card_number"]
    assert holder.identifier(IdentifierKey.SSC_IDENTIFICATION_CODE) == person["ssc_identification_code"]
    assert holder.sources_of(IdentifierKey.SSN) == ("essc",)
    assert [t.kind for t in holder.tokens] == ["essc-code"]
    assert code not in {i.value for i in holder.identifiers}
    assert holder.issuing_region == "371600" and holder.essc_sign_level in ("1", "2")


@pytest.mark.parametrize("kind", ["ehc", "ehc-static"])
async def test_ehc_code_names_the_holder_with_ehc_id_and_master_index(
    control: httpx.AsyncClient, ehc: EhcClient, kind: str
) -> None:
    person = (await people(control))[1]
    code = await issue(control, kind, person["id_number"])
    assert detect_kind(code) == "ehc"
    holder = await ehc.verify(code, CONTEXT)
    assert holder.kind == "ehc" and holder.name == person["name"]
    assert holder.identifier(IdentifierKey.EHC_ID) == person["ehc_id"]
    assert holder.identifier(IdentifierKey.ID_NUMBER) == person["id_number"]
    master_index = holder.identifier(IdentifierKey.EHC_MASTER_INDEX)
    assert master_index is not None and len(master_index) == 64
    assert holder.sex == person["sex"] and holder.birth_date is not None
    assert holder.birth_date.isoformat() == person["birth_date"]
    assert holder.ethnicity is not None and holder.ehc_card_status == "1"
    assert [t.kind for t in holder.tokens] == (["ehc-code"] if kind == "ehc" else [])


async def test_ehc_query_and_register(control: httpx.AsyncClient, ehc: EhcClient) -> None:
    person = (await people(control))[2]
    by_id_number = await ehc.query(id_number=person["id_number"])
    by_ehc_id = await ehc.query(ehc_id=person["ehc_id"])
    assert by_id_number.identifiers == by_ehc_id.identifiers
    registered_again = await ehc.register(id_number=person["id_number"], name=person["name"])
    assert registered_again.identifier(IdentifierKey.EHC_ID) == person["ehc_id"]
    newcomer = "371602199003070022"  # synthetic, valid check char
    created = await ehc.register(id_number=newcomer, name="测试人")
    assert created.identifier(IdentifierKey.ID_NUMBER) == newcomer
    assert (await ehc.query(id_number=newcomer)).identifiers == created.identifiers


async def test_nhsa_e_voucher_gives_person_insurance_and_an_ec_token(
    control: httpx.AsyncClient, nhsa: NhsaClient
) -> None:
    person = (await people(control))[3]
    code = await issue(control, "nhsa", person["id_number"])
    holder = await nhsa.verify(code, CONTEXT)
    assert holder.kind == "nhsa" and holder.name == person["name"]
    assert holder.identifier(IdentifierKey.NHSA_PSN_NO) == person["nhsa_psn_no"]
    assert [t.kind for t in holder.tokens] == ["ec-token"]
    assert holder.tokens[0].value not in {i.value for i in holder.identifiers}
    assert [i.insutype for i in holder.insurance] == [person["insutype"]]
    assert holder.insurance[0].insured_region.startswith("3716")


async def test_nhsa_person_information_by_id_number_and_by_card(
    control: httpx.AsyncClient, nhsa: NhsaClient
) -> None:
    person = (await people(control))[4]
    by_id = await nhsa.person_info("02", person["id_number"], context=CONTEXT)
    by_card = await nhsa.person_info(
        "03", person["ssc_card_number"], card_sn=person["ssc_identification_code"], context=CONTEXT
    )
    assert by_id.kind == "idcard" and by_card.kind == "ssc"
    assert by_id.identifiers == by_card.identifiers and by_id.tokens == ()
    with pytest.raises(DualcodeError) as error:
        await nhsa.person_info("02", "110105194912310021", context=CONTEXT)
    assert problem(error) is CardProblem.UNKNOWN_PERSON and error.value.http_status == 404


async def test_ssc_reader_line_is_read_offline(control: httpx.AsyncClient) -> None:
    person = (await people(control))[5]
    line = await issue(control, "ssc-reader", person["id_number"])
    assert detect_kind(line) == "ssc"
    holder = await SscReader().verify(line, CONTEXT)
    assert holder.kind == "ssc" and holder.identifier(IdentifierKey.SSN) == person["id_number"]
    assert holder.identifier(IdentifierKey.SSC_CARD_NUMBER) == person["ssc_card_number"]


async def test_one_door_detects_the_kind_and_verifies(
    control: httpx.AsyncClient, config: CardPlatformConfig
) -> None:
    person = (await people(control))[5]
    platforms = CardPlatforms.from_config(replace(config, default_kind="essc"))
    try:
        for kind, expected in (("ehc", "ehc"), ("ssc-reader", "ssc"), ("essc", "essc")):
            code = await issue(control, kind, person["id_number"])
            holder = await platforms.verify(code, CONTEXT)
            assert (
                holder.kind == expected and holder.identifier(IdentifierKey.ID_NUMBER) == person["id_number"]
            )
        nhsa_code = await issue(control, "nhsa", person["id_number"])
        assert (await platforms.verify(nhsa_code, CONTEXT, kind="nhsa")).kind == "nhsa"
        with pytest.raises(DualcodeError) as error:
            await platforms.verify(person["id_number"], CONTEXT)
        assert problem(error) is CardProblem.UNKNOWN_SHAPE
    finally:
        await platforms.aclose()


# --- refusals -----------------------------------------------------------------------------------------


async def test_expired_codes_are_refused() -> None:
    # A sandbox of its own, configured with a short code lifetime.
    with BackgroundSandbox(SandboxConfig(port=0, seed=8, people=1, code_ttl_s=0.5)) as short_lived:
        config = CardPlatformConfig.for_sandbox(short_lived.url, timeout_s=2.0)
        clients = (EsscClient(config), EhcClient(config), NhsaClient(config))
        try:
            async with httpx.AsyncClient(base_url=short_lived.url, timeout=10) as control:
                person = (await people(control))[0]
                codes = [await issue(control, kind, person["id_number"]) for kind in ("essc", "ehc", "nhsa")]
            await asyncio.sleep(1.6)  # the EHC validity has one-second resolution
            for code, client in zip(codes, clients, strict=True):
                with pytest.raises(DualcodeError) as error:
                    await client.verify(code, CONTEXT)
                assert problem(error) is CardProblem.EXPIRED, type(client).__name__
                assert error.value.http_status == 400
        finally:
            for client in clients:
                await client.aclose()


async def test_a_code_verifies_once(
    control: httpx.AsyncClient, essc: EsscClient, ehc: EhcClient, nhsa: NhsaClient
) -> None:
    person = (await people(control))[7]
    for kind, client in (("essc", essc), ("ehc", ehc), ("nhsa", nhsa)):
        code = await issue(control, kind, person["id_number"])
        await client.verify(code, CONTEXT)
        with pytest.raises(DualcodeError) as error:
            await client.verify(code, CONTEXT)
        assert problem(error) is CardProblem.REPLAYED, kind


async def test_forged_validity_and_tampered_ehc_id_are_refused(
    control: httpx.AsyncClient, ehc: EhcClient
) -> None:
    person = (await people(control))[8]
    code = await issue(control, "ehc", person["id_number"])
    ehc_id, _, validity = code.split(":")
    forged = f"{ehc_id}:0:{'0' * 32}"
    tampered = f"{ehc_id[:-1]}{'0' if ehc_id[-1] != '0' else '1'}:0:{validity}"
    for bad in (forged, tampered):
        with pytest.raises(DualcodeError) as error:
            await ehc.verify(bad, CONTEXT)
        assert problem(error) is CardProblem.FORGED
    # The genuine code is untouched by the attempts.
    assert (await ehc.verify(code, CONTEXT)).identifier(IdentifierKey.EHC_ID) == person["ehc_id"]


async def test_suspended_card_is_refused_by_every_platform(
    control: httpx.AsyncClient, essc: EsscClient, ehc: EhcClient, nhsa: NhsaClient
) -> None:
    person = (await people(control))[9]
    id_number = person["id_number"]
    codes = {kind: await issue(control, kind, id_number) for kind in ("essc", "ehc", "nhsa")}
    await control.post("/sandbox/cards/suspend", json={"id_number": id_number, "suspended": True})
    try:
        for kind, client in (("essc", essc), ("ehc", ehc), ("nhsa", nhsa)):
            with pytest.raises(DualcodeError) as error:
                await client.verify(codes[kind], CONTEXT)
            assert problem(error) is CardProblem.SUSPENDED, kind
    finally:
        await control.post("/sandbox/cards/suspend", json={"id_number": id_number, "suspended": False})


# --- outages ------------------------------------------------------------------------------------------


async def test_slow_platform_is_unavailable_within_the_timeout(
    control: httpx.AsyncClient, config: CardPlatformConfig
) -> None:
    person = (await people(control))[10]
    code = await issue(control, "ehc", person["id_number"])
    await control.post("/sandbox/faults", json={"platform": "ehc", "mode": "slow", "delay_s": 1.5})
    client = EhcClient(replace(config, timeout_s=0.3))
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamUnavailable) as error:
            await client.verify(code, CONTEXT)
    finally:
        await client.aclose()
    assert time.monotonic() - started < 1.2
    assert error.value.http_status == 503 and int(error.value.headers["Retry-After"]) >= 1


async def test_failing_platform_opens_the_circuit(
    control: httpx.AsyncClient, config: CardPlatformConfig
) -> None:
    person = (await people(control))[11]
    await control.post("/sandbox/faults", json={"platform": "nhsa", "mode": "fail"})
    client = NhsaClient(replace(config, breaker_failure_threshold=3, breaker_reset_s=60, retries=2))
    try:
        # One read with two retries: three failures, which opens the circuit.
        with pytest.raises(UpstreamUnavailable):
            await client.person_info("02", person["id_number"], context=CONTEXT)
        assert client.http.breaker.state == "open"
        await control.post("/sandbox/faults", json={"platform": "nhsa", "mode": "ok"})
        # The platform is back, but the open circuit does not even ask it.
        with pytest.raises(UpstreamUnavailable) as error:
            await client.person_info("02", person["id_number"], context=CONTEXT)
        assert "paused" in error.value.message
        assert 50 <= int(error.value.headers["Retry-After"]) <= 60
    finally:
        await client.aclose()


async def test_unreachable_platform_is_unavailable(config: CardPlatformConfig) -> None:
    from sandbox.server import free_port

    client = EsscClient(replace(config, essc_base_url=f"http://127.0.0.1:{free_port()}/essc"))
    try:
        with pytest.raises(UpstreamUnavailable) as error:
            await client.verify("anything", CONTEXT)
    finally:
        await client.aclose()
    assert card_problem_of(error.value) is CardProblem.UNAVAILABLE
