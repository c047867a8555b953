"""The binding table: most specific match wins, wildcards, versions, no destination."""

from __future__ import annotations

import pytest

from adapter.errors import NoDestination, UnsupportedVersion
from adapter.hl7v2.msh import read_msh
from adapter.hl7v2.router import Binding, BindingTable, HandlerResult, MessageContext, check_version
from adapter.storage.ports import UnitOfWork
from tests.unit.hl7v2.samples import adt


async def nothing(context: MessageContext, uow: UnitOfWork) -> HandlerResult:
    return HandlerResult()


def test_the_most_specific_binding_wins_whatever_the_registration_order() -> None:
    table = BindingTable(
        [
            Binding(nothing, "any-adt", message_type="ADT"),
            Binding(nothing, "catch-all"),
            Binding(nothing, "a04", message_type="ADT", trigger_event="A04"),
            Binding(nothing, "a04-test", message_type="ADT", trigger_event="A04", processing_id="T"),
        ]
    )
    assert table.route(read_msh(adt("C1").encode())).name == "a04"
    assert table.route(read_msh(adt("C1", processing_id="T").encode())).name == "a04-test"
    assert table.route(read_msh(adt("C1", event="A08").encode())).name == "any-adt"
    assert table.route(read_msh(adt("C1", message_type="ORU", event="R01").encode())).name == "catch-all"


def test_equal_specificity_keeps_registration_order_and_patterns_match() -> None:
    table = BindingTable(
        [
            Binding(nothing, "first", message_type="ADT", trigger_event="A0?"),
            Binding(nothing, "second", message_type="ADT", trigger_event="A0[48]"),
        ]
    )
    assert table.route(read_msh(adt("C1", event="A08").encode())).name == "first"
    grown = table.with_binding(Binding(nothing, "exact", message_type="ADT", trigger_event="A08"))
    assert grown.route(read_msh(adt("C1", event="A08").encode())).name == "exact"
    assert len(table.bindings) == 2  # tables are values: with_binding built a new one


def test_unmatched_is_no_destination_at_msh_9() -> None:
    table = BindingTable([Binding(nothing, "adt", message_type="ADT")])
    with pytest.raises(NoDestination) as caught:
        table.route(read_msh(adt("C1", message_type="ORU", event="R01").encode()))
    assert caught.value.hl7_location == "MSH-9" and "ORU^R01" in caught.value.message


@pytest.mark.parametrize("version", ["2.3.1", "2.4", "2.5", "2.5.1"])
def test_accepted_versions(version: str) -> None:
    check_version(version)


@pytest.mark.parametrize("version", ["2.3", "2.2", "2.6", "2.7.1", "", "2.x", "3"])
def test_other_versions_are_refused_with_203(version: str) -> None:
    with pytest.raises(UnsupportedVersion) as caught:
        check_version(version)
    assert caught.value.hl7_code == "203" and caught.value.hl7_ack == "AR"


def test_version_is_checked_before_bindings() -> None:
    with pytest.raises(UnsupportedVersion):
        BindingTable([Binding(nothing, "all")]).route(read_msh(adt("C1", version="2.6").encode()))
