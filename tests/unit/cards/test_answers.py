"""Platform answers become CardHolders: which identifier came from which platform, tokens kept apart,
bad answers refused. Sample answers are synthetic, shaped like the sandbox's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from adapter.cards import CardProblem, TransientToken, card_problem_of
from adapter.cards.context import ScanContext
from adapter.cards.ehc import ehc_holder, ehc_refusal
from adapter.cards.essc import essc_holder, essc_refusal
from adapter.cards.nhsa import message_id, nhsa_holder, nhsa_refusal
from adapter.cards.ssc_reader import SscReader
from adapter.errors import DualcodeError
from mappings.codes import IdentifierKey

TODAY = date(2026, 6, 1)
ID_NUMBER = "11010519491231002X"
EHC_ID = "98FF9F2C05145CB9305E9D8A57E072BB51180CA49E5BE5E9D41BCE3A9A571928"
MINDEX = "ABD17E7ED399EF68AB5660155D6E226D2C92EAC3254A4A66BED83AED0ADA1E9E"
ESSC_DATA = {
    "AAB301": "371600",
    "AAC002": ID_NUMBER.lower(),
    "AAC003": "张三",
    "AAZ500": "b00000001",
    "AAZ501": "371600D156000005ABCDEF0123456789",
    "signLevel": "2",
}
EHC_DATA = {
    "name": "李四",
    "mindex": MINDEX,
    "ehc_id": EHC_ID.lower(),
    "id_type": "01",
    "id_no": ID_NUMBER,
    "nation": "03",
    "sex": "2",
    "birthday": "19491231",
    "address": "山东省滨州市滨城区黄河路1号",
    "phone": "19900000000",
    "surplusNum": 0,
    "card_status": "1",
}
NHSA_OUTPUT: dict[str, Any] = {
    "baseinfo": {
        "psn_no": "37160000000000000001",
        "psn_cert_type": "01",
        "certno": ID_NUMBER,
        "psn_name": "王五",
        "gend": "2",
        "naty": "01",
        "brdy": "1949-12-31",
    },
    "insuinfo": [
        {
            "insutype": "310",
            "psn_type": "11",
            "psn_insu_stas": "1",
            "balc": 1234.5,
            "insuplc_admdvs": "371602",
            "emp_name": "示例公司",
            "psn_insu_date": "2015-01-01",
            "paus_insu_date": None,
        },
        "not an object",
    ],
}


def problem_of(action: Any) -> CardProblem | None:
    with pytest.raises(DualcodeError) as error:
        action()
    return card_problem_of(error.value)


def test_essc_answer() -> None:
    holder = essc_holder(ESSC_DATA, code="opaque", today=TODAY)
    assert holder.id_number is not None and holder.cert_number == ID_NUMBER
    assert holder.sex == "2" and holder.birth_date == date(1949, 12, 31)
    assert {(i.key, i.value) for i in holder.identifiers} == {
        (IdentifierKey.ID_NUMBER, ID_NUMBER),
        (IdentifierKey.SSN, ID_NUMBER),
        (IdentifierKey.SSC_CARD_NUMBER, "B00000001"),
        (IdentifierKey.SSC_IDENTIFICATION_CODE, "371600D156000005ABCDEF0123456789"),
    }
    assert {i.source for i in holder.identifiers} == {"essc"}
    assert holder.tokens == (TransientToken("essc-code", "opaque", "essc"),)
    assert (holder.issuing_region, holder.essc_sign_level) == ("371600", "2")


def test_essc_answer_with_a_bad_or_missing_ssn_is_refused() -> None:
    bad = {**ESSC_DATA, "AAC002": "110105194912310021"}
    assert problem_of(lambda: essc_holder(bad, code="c", today=TODAY)) is CardProblem.INVALID_CARD_READ
    missing = {k: v for k, v in ESSC_DATA.items() if k != "AAC003"}
    assert problem_of(lambda: essc_holder(missing, code="c", today=TODAY)) is CardProblem.UNAVAILABLE


def test_ehc_answer() -> None:
    token = TransientToken("ehc-code", f"{EHC_ID}:0:{'0' * 32}", "ehc")
    holder = ehc_holder(EHC_DATA, today=TODAY, token=token)
    assert holder.identifier(IdentifierKey.EHC_ID) == EHC_ID
    assert holder.identifier(IdentifierKey.EHC_MASTER_INDEX) == MINDEX
    assert holder.sources_of(IdentifierKey.ID_NUMBER) == ("ehc",)
    assert (holder.sex, holder.ethnicity, holder.ehc_card_status) == ("2", "03", "1")
    assert holder.tokens == (token,)


def test_ehc_answer_for_another_document_keeps_it_unparsed() -> None:
    holder = ehc_holder({**EHC_DATA, "id_type": "03", "id_no": "e12345678"}, today=TODAY)
    assert holder.id_number is None and (holder.cert_type, holder.cert_number) == ("03", "E12345678")
    assert holder.identifier(IdentifierKey.ID_NUMBER) is None


def test_suspended_ehc_card_is_refused() -> None:
    suspended = {**EHC_DATA, "card_status": "2"}
    assert problem_of(lambda: ehc_holder(suspended, today=TODAY)) is CardProblem.SUSPENDED


def test_nhsa_answer() -> None:
    holder = nhsa_holder(NHSA_OUTPUT, kind="idcard", today=TODAY)
    assert holder.kind == "idcard" and holder.name == "王五"
    assert holder.identifier(IdentifierKey.NHSA_PSN_NO) == "37160000000000000001"
    assert holder.sources_of(IdentifierKey.ID_NUMBER) == ("nhsa",)
    assert holder.tokens == ()
    (insurance,) = holder.insurance
    assert (insurance.insutype, insurance.balance, insurance.insured_region) == ("310", 1234.5, "371602")
    assert insurance.start_date == date(2015, 1, 1) and insurance.pause_date is None


async def test_reader_line_of_a_third_generation_card_without_ssn_is_refused() -> None:
    line = "371600||B00000001|371600D156000005ABCDEF0123456789||ATR|3.00|||T1|D1|"
    with pytest.raises(DualcodeError) as error:
        await SscReader(today=lambda: TODAY).verify(line, ScanContext(organization="H1"))
    assert card_problem_of(error.value) is CardProblem.INVALID_CARD_READ
    assert "PSAM" in error.value.message


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        (essc_refusal("E1001"), CardProblem.EXPIRED),
        (essc_refusal("E1002"), CardProblem.REPLAYED),
        (essc_refusal("E1004"), CardProblem.SUSPENDED),
        (essc_refusal("E1005"), CardProblem.NOT_PERMITTED),
        (essc_refusal("E9999"), CardProblem.REJECTED),
        (ehc_refusal("1001"), CardProblem.EXPIRED),
        (ehc_refusal("1002"), CardProblem.REPLAYED),
        (ehc_refusal("1003"), CardProblem.FORGED),
        (ehc_refusal("1007"), CardProblem.SUSPENDED),
        (nhsa_refusal("6101", "E6101-1: 已过期"), CardProblem.EXPIRED),
        (nhsa_refusal("6101", "E6101-2: 已使用"), CardProblem.REPLAYED),
        (nhsa_refusal("1101", "E1101-1: 无此人 110105194912310021"), CardProblem.UNKNOWN_PERSON),
        (nhsa_refusal("1101", "free text"), CardProblem.REJECTED),
    ],
)
def test_platform_refusal_codes(refusal: DualcodeError, expected: CardProblem) -> None:
    assert card_problem_of(refusal) is expected
    assert "110105194912310021" not in refusal.message  # the platform's free text is not passed on


def test_nhsa_message_id_is_30_characters() -> None:
    stamp = datetime(2026, 6, 1, 12, 0, 5)
    assert message_id("H37160200001", stamp, 7) == "H37160200001202606011200050007"
    assert len(message_id("H1", stamp, 12345)) == 30


def test_holder_repr_shows_no_identity() -> None:
    holder = ehc_holder(EHC_DATA, today=TODAY)
    shown = repr(holder)
    for secret in (ID_NUMBER, "李四", "19900000000", EHC_ID, "黄河路"):
        assert secret not in shown
