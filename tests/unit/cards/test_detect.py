from __future__ import annotations

import pytest

from adapter.cards import CardProblem, card_problem_of, detect_kind
from adapter.errors import CardCodeUnrecognised

EHC_ID = "98FF9F2C05145CB9305E9D8A57E072BB51180CA49E5BE5E9D41BCE3A9A571928"
READER_LINE = "371600|11010519491231002X|B00000001|371600D156000005ABCDEF0123456789|张三|ATR|3.00|||T1|D1|"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (f"{EHC_ID}:1", "ehc"),
        (f"{EHC_ID.lower()}:0:{'AB' * 16}\n", "ehc"),
        (READER_LINE, "ssc"),
        ("11010519491231002X", "idcard"),
        ("11010519491231002x", "idcard"),
        ("１１０１０５１９４９１２３１００２Ｘ", "idcard"),  # full-width, as some scanners send
        ("440524800101001", "idcard"),  # legacy 15 digits
        ("USA123456789012", "idcard"),  # 2017 foreign permanent resident form
    ],
)
def test_shapes(code: str, kind: str) -> None:
    assert detect_kind(code) == kind


def test_ehc_shape_with_a_bad_validity_is_not_ehc() -> None:
    assert detect_kind(f"{EHC_ID}:0:XYZ", default="essc") == "essc"


def test_opaque_codes_go_by_prefix_then_default() -> None:
    prefixes = (("NHS", "nhsa"),)
    assert detect_kind("NHS0123ABC", prefixes=prefixes, default="essc") == "nhsa"
    assert detect_kind("opaque-token", prefixes=prefixes, default="essc") == "essc"


@pytest.mark.parametrize("code", ["opaque-token", "", "   "])
def test_unknown_shape_without_default_is_refused(code: str) -> None:
    with pytest.raises(CardCodeUnrecognised) as error:
        detect_kind(code)
    assert card_problem_of(error.value) is CardProblem.UNKNOWN_SHAPE
