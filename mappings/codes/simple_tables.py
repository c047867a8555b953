"""Code tables that are plain code -> name lists: certificate types and insurance types."""

from __future__ import annotations

from functools import cache

from mappings.codes._data import read_csv
from mappings.codes.code_table import Coded, CodeTable


def _coded_table(title: str, filename: str) -> CodeTable[Coded]:
    return CodeTable.of(title, ((row["code"], Coded(row["code"], row["name"])) for row in read_csv(filename)))


@cache
def certificate_types() -> CodeTable[Coded]:
    """WS 364 CV02.01.101 identity certificate types (the EHC platforms' id types)."""
    return _coded_table("WS 364 CV02.01.101", "ws364_cv02_01_101_certificate_types.csv")


@cache
def psn_cert_types() -> CodeTable[Coded]:
    """NHSA person certificate types (psn_cert_type)."""
    return _coded_table("NHSA psn_cert_type", "nhsa_psn_cert_type.csv")


@cache
def insurance_types() -> CodeTable[Coded]:
    """NHSA insurance types (insutype)."""
    return _coded_table("NHSA insutype", "nhsa_insutype.csv")
