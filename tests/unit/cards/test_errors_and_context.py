from __future__ import annotations

import pytest

from adapter.cards import (
    CardPlatform,
    CardPlatformConfig,
    CardProblem,
    EhcClient,
    EsscClient,
    NhsaClient,
    ScanContext,
    SscReader,
    card_error,
    card_problem_of,
)
from adapter.errors import CardCodeExpired, CardHolderUnknown, UpstreamUnavailable, operation_outcome


@pytest.mark.parametrize("problem", list(CardProblem))
def test_every_problem_has_a_class_and_renders(problem: CardProblem) -> None:
    error = card_error(problem, "what happened")
    assert card_problem_of(error) is problem
    outcome = operation_outcome(error)
    assert problem.value in outcome["issue"][0]["diagnostics"]


def test_status_of_the_main_problems() -> None:
    expired = card_error(CardProblem.EXPIRED, "x")
    assert isinstance(expired, CardCodeExpired) and expired.code == "DC-5102"
    unknown = card_error(CardProblem.UNKNOWN_PERSON, "x")
    assert isinstance(unknown, CardHolderUnknown) and unknown.http_status == 404
    unavailable = card_error(CardProblem.UNAVAILABLE, "x", retry_after_s=2.2)
    assert isinstance(unavailable, UpstreamUnavailable) and unavailable.http_status == 503
    assert unavailable.headers == {"Retry-After": "3"}
    assert card_error(CardProblem.EXPIRED, "x").headers == {}
    assert card_problem_of(ValueError("plain")) is None


@pytest.mark.parametrize(
    ("context", "essc", "nhsa"),
    [
        (ScanContext("H1", "registration"), "01", "01101"),
        (ScanContext("H1", "settlement"), "02", "01301"),
        (ScanContext("H1", "pharmacy"), "02", "02121"),
        (ScanContext("H1", "pharmacy", medication_pickup=True), "02", "01302"),
        (ScanContext("H1", "treatment", cross_region=True), "04", "01101"),
    ],
)
def test_business_types_follow_the_step(context: ScanContext, essc: str, nhsa: str) -> None:
    assert (context.essc_business_type, context.nhsa_business_type) == (essc, nhsa)


async def test_every_client_is_a_card_platform() -> None:
    config = CardPlatformConfig.for_sandbox()
    assert config.essc_base_url == "http://127.0.0.1:8090/essc"
    clients = [EsscClient(config), EhcClient(config), NhsaClient(config), SscReader()]
    try:
        assert all(isinstance(client, CardPlatform) for client in clients)
    finally:
        for client in clients:
            await client.aclose()
