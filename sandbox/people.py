"""One synthetic person of the SIMULATOR's population and how one is made from a seed.

Every fact is generated, never copied: ID numbers use Binzhou (3716xx) county codes with a correct
MOD 11-2 check character, the EHC ID is derived per the EHC specification (mappings.cards.ehc_id).
Person `i` of seed `s` depends only on (s, i), so a population grows deterministically.
"""

from __future__ import annotations

import random
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date, timedelta

from mappings.cards import ehc_id
from mappings.codes import lookup_region
from mappings.identity_documents import mod11_2_check_char
from sandbox.names import synthetic_name

# Current Binzhou counties (GB/T 2260); the city code 371600 issues the social security cards.
BINZHOU_COUNTIES = ("371602", "371603", "371621", "371622", "371623", "371625", "371681")
CARD_ISSUING_REGION = "371600"
CARD_CODE_MIDDLE = "D156000005"  # every published identification code continues with this
RESIDENT_ID_CERT_TYPE = "01"  # WS 364 CV02.01.101 and NHSA psn_cert_type: resident ID card
_ETHNICITIES = ("01",) * 18 + ("03", "02")  # mostly Han, some Hui and Mongol (GB 3304 numeric)
_ROADS = ("黄河", "渤海", "长江", "新立河", "梧桐", "黄山", "渤海十", "凤凰")
_EMPLOYERS = ("滨州市示例机械有限公司", "滨州市示例纺织有限公司", "滨州市示例物流有限公司", "滨州市示例医院")
_EARLIEST_BIRTH = date(1940, 1, 1)
_BIRTH_SPAN_DAYS = (date(2020, 12, 31) - _EARLIEST_BIRTH).days
ATR = "3B6D00000081A7008641250000000000"  # synthetic answer-to-reset bytes


@dataclass(frozen=True)
class Person:
    """A synthetic resident with every card. The repr leaves out the ID number, name, phone and address."""

    id_number: str = field(repr=False)
    name: str = field(repr=False)
    sex: str  # GB/T 2261.1
    birth_date: date
    ethnicity: str  # GB 3304 numeric
    phone: str = field(repr=False)
    address: str = field(repr=False)
    ssc_card_number: str  # AAZ500, 9 characters
    ssc_identification_code: str  # AAZ501, 32 hex characters
    ssc_issue_date: date
    ssc_expiry_date: date
    essc_sign_level: str  # "1" identity, "2" identity + payment
    ehc_master_index: str  # 64 hex
    ehc_id: str  # 64 hex, derived from the master index and the ID number
    nhsa_psn_no: str
    insutype: str  # "310" employees, "390" urban-rural residents
    psn_type: str
    insuplc_admdvs: str  # insured region
    emp_name: str
    balance: float

    @property
    def region_code(self) -> str:
        return self.id_number[:6]


def make_person(seed: int, index: int, *, root_key: bytes, today: date, taken: Container[str]) -> Person:
    """Person `index` of population `seed`; ID numbers in `taken` are skipped over, deterministically."""
    rng = random.Random(f"dualcode-sandbox:{seed}:{index}")
    county = rng.choice(BINZHOU_COUNTIES)
    birth = _EARLIEST_BIRTH + timedelta(days=rng.randrange(_BIRTH_SPAN_DAYS))
    sequence = rng.randrange(1, 1000)
    id_number = _id_number(county, birth, sequence)
    while id_number in taken:
        sequence = sequence % 999 + 1
        id_number = _id_number(county, birth, sequence)
    sex = "1" if sequence % 2 else "2"
    master_index = rng.randbytes(32).hex().upper()
    issued = date(rng.randrange(2015, 2024), rng.randrange(1, 13), rng.randrange(1, 29))
    age = (today - birth).days // 365
    employed = 18 <= age < 60 and rng.random() < 0.6
    return Person(
        id_number=id_number,
        name=synthetic_name(rng, sex=sex),
        sex=sex,
        birth_date=birth,
        ethnicity=rng.choice(_ETHNICITIES),
        phone="199" + "".join(rng.choice("0123456789") for _ in range(8)),
        address=_address(rng, county),
        ssc_card_number=_card_number(index),
        ssc_identification_code=CARD_ISSUING_REGION + CARD_CODE_MIDDLE + rng.randbytes(8).hex().upper(),
        ssc_issue_date=issued,
        ssc_expiry_date=issued.replace(year=issued.year + 10),
        essc_sign_level=rng.choice("12"),
        ehc_master_index=master_index,
        ehc_id=ehc_id(
            master_index, root_key=root_key, cert_type=RESIDENT_ID_CERT_TYPE, cert_number=id_number
        ),
        nhsa_psn_no=f"37160000000{index:09d}",
        insutype="310" if employed else "390",
        psn_type="11" if employed else "1502",  # 在职 / 城乡居民 (synthetic codes)
        insuplc_admdvs=county,
        emp_name=rng.choice(_EMPLOYERS) if employed else "",
        balance=round(rng.uniform(0, 5000), 2) if employed else 0.0,
    )


def _id_number(county: str, birth: date, sequence: int) -> str:
    body = f"{county}{birth:%Y%m%d}{sequence:03d}"
    return body + mod11_2_check_char(body)


def _card_number(index: int) -> str:
    # Unique by construction: "B" + index in base 36, 8 characters.
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    for _ in range(8):
        index, rest = divmod(index, 36)
        text = digits[rest] + text
    return "B" + text


def _address(rng: random.Random, county: str) -> str:
    region = lookup_region(county)
    place = region.full_name if region else "山东省滨州市"
    return f"{place}{rng.choice(_ROADS)}路{rng.randrange(1, 900)}号"
