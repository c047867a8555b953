from __future__ import annotations

import pytest

from mappings.codes import (
    CodeTable,
    certificate_types,
    default_visit_credential_types,
    ethnicities,
    ethnicities_by_letter,
    ethnicity_letter_for_numeric,
    ethnicity_numeric_for_letter,
    fhir_gender_for_sex,
    insurance_types,
    psn_cert_types,
    sex_codes,
    sex_for_fhir_gender,
    visit_credential_types,
    visit_credential_types_for_region,
)

# --- GB/T 2261.1 sex -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "gender"), [("0", "unknown"), ("1", "male"), ("2", "female"), ("9", "other")]
)
def test_sex_to_fhir_gender_and_back(code: str, gender: str) -> None:
    assert fhir_gender_for_sex(code) == gender
    assert sex_for_fhir_gender(gender) == code


def test_sex_table_is_exactly_the_four_codes() -> None:
    assert list(sex_codes()) == ["0", "1", "2", "9"]
    assert sex_codes()["1"].name == "男性"
    with pytest.raises(KeyError):
        fhir_gender_for_sex("3")
    with pytest.raises(KeyError):
        sex_for_fhir_gender("M")


# --- GB 3304 ethnicity -----------------------------------------------------------------------------


def test_all_56_ethnicities_with_letters_plus_97_and_98() -> None:
    table = ethnicities()
    assert list(table) == [f"{n:02d}" for n in range(1, 57)] + ["97", "98"]
    with_letters = [e for e in table.values() if e.letter]
    assert len(with_letters) == 56 == len({e.letter for e in with_letters})
    assert len({e.name for e in table.values()}) == 58
    assert all(e.name.endswith("族") for e in with_letters)
    assert table["97"].letter is None and table["98"].name == "外国血统中国籍人士"


@pytest.mark.parametrize(
    ("numeric", "letter", "name"),
    [
        ("01", "HA", "汉族"),
        ("02", "MG", "蒙古族"),
        ("03", "HU", "回族"),
        ("04", "ZA", "藏族"),
        ("05", "UG", "维吾尔族"),
        ("10", "CS", "朝鲜族"),
        ("11", "MA", "满族"),
        ("21", "VA", "佤族"),
        ("29", "KG", "柯尔克孜族"),
        ("46", "DE", "德昂族"),
        ("49", "GI", "京族"),
        ("52", "OR", "鄂伦春族"),
        ("56", "JN", "基诺族"),
    ],
)
def test_numeric_letter_map(numeric: str, letter: str, name: str) -> None:
    assert ethnicities()[numeric].name == name
    assert ethnicity_letter_for_numeric(numeric) == letter
    assert ethnicity_numeric_for_letter(letter) == numeric
    assert ethnicity_numeric_for_letter(letter.lower()) == numeric


def test_every_letter_maps_back_to_its_number() -> None:
    for letter in ethnicities_by_letter():
        assert ethnicity_letter_for_numeric(ethnicity_numeric_for_letter(letter)) == letter
    assert ethnicity_letter_for_numeric("97") is None
    with pytest.raises(KeyError):
        ethnicity_numeric_for_letter("ZZ")


# --- certificate, person certificate, insurance types ----------------------------------------------


def test_ws364_certificate_types() -> None:
    assert {code: c.name for code, c in certificate_types().items()} == {
        "01": "居民身份证",
        "02": "居民户口簿",
        "03": "护照",
        "04": "军官证",
        "05": "驾驶证",
        "06": "港澳居民来往内地通行证",
        "07": "台湾居民来往内地通行证",
        "99": "其他法定有效证件",
    }


def test_nhsa_person_certificate_types() -> None:
    table = psn_cert_types()
    assert list(table) == [f"{n:02d}" for n in range(1, 16)] + ["90", "99"]
    assert table["01"].name == "居民身份证（户口簿）"
    assert table["07"].name == "外国人永久居留证"
    assert table["08"].name == "外国人护照"
    assert table["90"].name == "社会保障卡"


def test_nhsa_insurance_types() -> None:
    table = insurance_types()
    for code in ("310", "320", "330", "340", "390", "391", "392", "399", "410", "510"):
        assert code in table
    assert table["310"].name == "职工基本医疗保险"
    assert table["390"].name == "城乡居民基本医疗保险"
    assert table["510"].name == "生育保险"
    assert list(table) == sorted(table)


# --- mdtrt_cert_type with region overrides ---------------------------------------------------------


def test_national_visit_credential_types() -> None:
    table = default_visit_credential_types()
    assert {c: (t.credential, t.needs_card_sn) for c, t in table.items()} == {
        "01": ("ec_token", False),
        "02": ("id_number", False),
        "03": ("ssc_card_number", True),
    }


def test_a_region_adds_renames_and_withdraws() -> None:
    table = visit_credential_types(
        {"04": {"name": "电子社保卡", "credential": "essc_token"}, "01": {"name": "医保码"}, "02": None}
    )
    assert list(table) == ["01", "03", "04"]
    assert (table["04"].name, table["04"].credential, table["04"].needs_card_sn) == (
        "电子社保卡",
        "essc_token",
        False,
    )
    assert (table["01"].name, table["01"].credential) == ("医保码", "ec_token")
    assert list(default_visit_credential_types()) == ["01", "02", "03"]  # the default is untouched


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"04": {"name": "x", "credential": "token"}}, "credential"),
        ({"04": {"name": "x"}}, "credential"),
        ({"04": {"credential": "other"}}, "name"),
        ({"01": {"label": "x"}}, "unknown override keys"),
        ({"03": {"needs_card_sn": "yes"}}, "needs_card_sn"),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        visit_credential_types(overrides)


def test_region_lookup_falls_back_to_prefecture_then_province() -> None:
    by_region = {"371600": {"04": {"name": "电子社保卡", "credential": "essc_token"}}, "370000": {"02": None}}
    assert "04" in visit_credential_types_for_region("371602", by_region)
    assert "04" in visit_credential_types_for_region("371600", by_region)
    assert list(visit_credential_types_for_region("370102", by_region)) == ["01", "03"]
    assert visit_credential_types_for_region("110105", by_region) is default_visit_credential_types()


# --- the table type --------------------------------------------------------------------------------


def test_tables_are_loaded_once_and_cannot_be_changed() -> None:
    assert ethnicities() is ethnicities()
    with pytest.raises(TypeError):
        ethnicities().entries["99"] = ethnicities()["01"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        ethnicities().title = "x"  # type: ignore[misc]


def test_a_code_table_copies_its_input() -> None:
    source = {"a": 1}
    table = CodeTable("t", source)
    source["b"] = 2
    assert dict(table) == {"a": 1} and len(table) == 1
    assert table == CodeTable.of("other title", [("a", 1)])
