"""FT1 -> ChargeItem, following the V2-to-FHIR IG (FT1[ChargeItem]), amounts included.

R4's ChargeItem has a total (priceOverride) but no unit price: FT1-12 goes into our extension so
no amount is lost. CP.1 is an MO (amount & currency).
"""

from __future__ import annotations

from mappings.hl7v2 import Repetition, Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import Json, codeable_concept, date_time, number, xcn_reference
from mappings.v2_to_fhir.systems import (
    DATA_ABSENT_REASON,
    EXT_TRANSACTION_TYPE,
    EXT_UNIT_PRICE,
)

FT1_MAPPED = frozenset({1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 19, 20, 21, 25})


def charge_from_ft1(ft1: Segment, where: str, subject: str, encounter: str | None, ctx: Context) -> Json:
    charge: Json = {"resourceType": "ChargeItem"}
    extensions = []
    unit = money(ft1.field(12).repetition(), f"{where}-12", ctx)
    if unit:
        extensions.append({"url": EXT_UNIT_PRICE, "valueMoney": unit})
    kind = " ".join(ft1.value(6).split())
    if kind:
        coding = {"system": "http://terminology.hl7.org/CodeSystem/v2-0017", "code": kind}
        extensions.append({"url": EXT_TRANSACTION_TYPE, "valueCoding": coding})
    if extensions:
        charge["extension"] = extensions
    if ft1.value(2):
        charge["identifier"] = [{"value": ft1.value(2)}]
    charge["status"] = "billable"
    code = codeable_concept(ft1.field(7).repetition(), ctx.profile)
    charge["code"] = code or {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}
    if code is None:
        ctx.issue(f"{where}-7", "no transaction code")
    charge["subject"] = {"reference": subject}
    if encounter:
        charge["context"] = {"reference": encounter}
    _occurrence(ft1, where, charge, ctx)
    performers = [r for r in map(xcn_reference, ft1.field(20)) if r]
    if performers:
        charge["performer"] = [{"actor": r} for r in performers]
    department = codeable_concept(ft1.field(13).repetition(), ctx.profile)
    if department:
        charge["costCenter"] = {"display": department.get("text") or _display(department)}
    quantity = number(ft1.value(10)) if ft1.value(10) else None
    if quantity is not None:
        charge["quantity"] = {"value": quantity}
    elif ft1.value(10):
        ctx.issue(f"{where}-10", "not a number")
    total = money(ft1.field(11).repetition(), f"{where}-11", ctx)
    if total:
        charge["priceOverride"] = total
    if ft1.value(5):
        posted = date_time(ft1.value(5), ctx.profile)
        if posted:
            charge["enteredDate"] = posted
        else:
            ctx.issue(f"{where}-5", "not a date/time")
    enterer = xcn_reference(ft1.field(21).repetition())
    if enterer:
        charge["enterer"] = enterer
    reasons = [c for c in (codeable_concept(r, ctx.profile) for r in ft1.field(19)) if c]
    if reasons:
        charge["reason"] = reasons
    product = codeable_concept(ft1.field(25).repetition(), ctx.profile)
    if product:
        charge["productCodeableConcept"] = product
    if ft1.value(3):
        charge.setdefault("note", []).append({"text": f"batch {ft1.value(3)}"})
    ctx.account(ft1, where, FT1_MAPPED)
    return charge


def money(cp: Repetition, where: str, ctx: Context) -> Json | None:
    """CP (or MO) -> Money: CP.1.1 amount, CP.1.2 currency (ISO 4217)."""
    amount_text, currency = cp.subcomponent(1, 1), cp.subcomponent(1, 2)
    if not amount_text:
        return None
    amount = number(amount_text)
    if amount is None:
        ctx.issue(where, "amount is not a number")
        return None
    out: Json = {"value": amount}
    if currency:
        out["currency"] = currency
    return out


def _display(concept: Json) -> str:
    coding = concept["coding"][0]
    return str(coding.get("display") or coding["code"])


def _occurrence(ft1: Segment, where: str, charge: Json, ctx: Context) -> None:
    start_text, end_text = ft1.field(4).component(1), ft1.field(4).component(2)
    start = date_time(start_text, ctx.profile) if start_text else None
    end = date_time(end_text, ctx.profile) if end_text else None
    if (start_text and not start) or (end_text and not end):
        ctx.issue(f"{where}-4", "not a date/time")
    if start and end:
        charge["occurrencePeriod"] = {"start": start, "end": end}
    elif start:
        charge["occurrenceDateTime"] = start
