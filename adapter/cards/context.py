"""Who scans a code and why: the facts a platform wants with each verification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Step = Literal["registration", "payment", "treatment", "pharmacy", "settlement", "sampling"]

# eSSC business type: 01 query, 02 payment, 03 other, 04 cross-region medical care.
ESSC_BUSINESS_TYPES: dict[Step, str] = {
    "registration": "01",
    "payment": "02",
    "treatment": "01",
    "pharmacy": "02",
    "settlement": "02",
    "sampling": "03",
}
ESSC_CROSS_REGION = "04"
# NHSA scan business types: 01101 registration, 01301 settlement, 01302 medication pickup,
# 02121 pharmacy purchase.
NHSA_BUSINESS_TYPES: dict[Step, str] = {
    "registration": "01101",
    "payment": "01301",
    "treatment": "01101",
    "pharmacy": "02121",
    "settlement": "01301",
    "sampling": "01101",
}


@dataclass(frozen=True)
class ScanContext:
    organization: str  # the scanning institution's code (EHC hospital code, NHSA fixmedins_code)
    step: Step = "registration"
    scanner_id: str | None = None  # defaults to the configured one
    operator: str | None = None
    cross_region: bool = False  # eSSC business type 04 (cross-region medical care)
    medication_pickup: bool = False  # NHSA 01302 rather than a pharmacy purchase

    @property
    def essc_business_type(self) -> str:
        return ESSC_CROSS_REGION if self.cross_region else ESSC_BUSINESS_TYPES[self.step]

    @property
    def nhsa_business_type(self) -> str:
        if self.step == "pharmacy" and self.medication_pickup:
            return "01302"
        return NHSA_BUSINESS_TYPES[self.step]
