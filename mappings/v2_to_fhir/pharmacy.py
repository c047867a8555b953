"""ORC + RXE (+ TQ1, RXR) -> MedicationRequest; RXD (+ RXR) -> MedicationDispense (V2-to-FHIR IG).

RDE^O11 carries the prescription; RDS^O13 the dispense, often with the RXE it fills: the
dispense then points at that MedicationRequest (authorizingPrescription).
"""

from __future__ import annotations

from mappings.hl7v2 import Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import Json, codeable_concept, date_time, number, quantity, xcn_reference

ORC_MAPPED = frozenset({1, 2, 3, 5, 9, 12})
RXE_MAPPED = frozenset({2, 3, 5, 7, 10, 11, 12, 15, 21, 27})
RXR_MAPPED = frozenset({1, 2})
TQ1_MAPPED = frozenset({1, 3, 7, 8})
RXD_MAPPED = frozenset({1, 2, 3, 4, 5, 7, 10})
_DATA_ABSENT = {
    "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}
    ]
}

# HL7 table 0119 (order control) -> MedicationRequest.status
_ORDER_STATUS = {"NW": "active", "XO": "active", "RE": "active", "OK": "active", "CA": "cancelled"}
_ORDER_STATUS |= {"OC": "cancelled", "DC": "stopped", "OD": "stopped", "HD": "on-hold", "OH": "on-hold"}


def order_identifiers(orc: Segment | None) -> list[Json]:
    """ORC-2 placer and ORC-3 filler order numbers (EI) as identifiers typed PLAC / FILL."""
    if orc is None:
        return []
    out = []
    for number_, code in ((2, "PLAC"), (3, "FILL")):
        value, namespace = orc.value(number_, 1), orc.value(number_, 2)
        if value:
            ident: Json = {"type": {"coding": [{"system": _V2_0203, "code": code}]}, "value": value}
            if namespace:
                ident["assigner"] = {"display": namespace}
            out.append(ident)
    return out


_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def request_from_rxe(
    rxe: Segment, where: str, orc: Segment | None, subject: str, encounter: str | None, ctx: Context
) -> Json:
    request: Json = {"resourceType": "MedicationRequest"}
    idents = order_identifiers(orc)
    if rxe.value(15):
        idents.append({"value": rxe.value(15)})
    if idents:
        request["identifier"] = idents
    control = orc.value(1) if orc else ""
    request["status"] = _ORDER_STATUS.get(control, "unknown")
    request["intent"] = "order"
    medication = codeable_concept(rxe.field(2).repetition(), ctx.profile)
    if medication is None:
        ctx.issue(f"{where}-2", "no give code")
    request["medicationCodeableConcept"] = medication or _DATA_ABSENT
    request["subject"] = {"reference": subject}
    if encounter:
        request["encounter"] = {"reference": encounter}
    if orc and orc.value(9):
        authored = date_time(orc.value(9), ctx.profile)
        if authored:
            request["authoredOn"] = authored
    requester = xcn_reference(orc.field(12).repetition()) if orc else None
    if requester:
        request["requester"] = requester
    reasons = [c for c in (codeable_concept(r, ctx.profile) for r in rxe.field(27)) if c]
    if reasons:
        request["reasonCode"] = reasons
    if rxe.value(21):
        request["note"] = [{"text": rxe.value(21)}]
    dosage: Json = {}
    instruction = codeable_concept(rxe.field(7).repetition(), ctx.profile)
    if instruction:
        dosage["additionalInstruction"] = [instruction]
    dose = quantity(rxe.value(3), rxe.field(5).repetition(), ctx.profile)
    if dose:
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    request["dosageInstruction"] = [dosage]
    dispense: Json = {}
    if rxe.value(12).isdigit():
        dispense["numberOfRepeatsAllowed"] = int(rxe.value(12))
    amount = quantity(rxe.value(10), rxe.field(11).repetition(), ctx.profile)
    if amount:
        dispense["quantity"] = amount
    if dispense:
        request["dispenseRequest"] = dispense
    ctx.account(rxe, where, RXE_MAPPED)
    return request


def add_tq1(request: Json, tq1: Segment, where: str, ctx: Context) -> None:
    timing: Json = {}
    pattern = codeable_concept(tq1.field(3).repetition(), ctx.profile)
    if pattern:
        timing["code"] = pattern
    bounds = {}
    for number_, key in ((7, "start"), (8, "end")):
        value = date_time(tq1.value(number_), ctx.profile) if tq1.value(number_) else None
        if value:
            bounds[key] = value
    if bounds:
        timing["repeat"] = {"boundsPeriod": bounds}
    if timing:
        request["dosageInstruction"][0]["timing"] = timing
    ctx.account(tq1, where, TQ1_MAPPED)


def add_rxr(target: Json, rxr: Segment, where: str, ctx: Context) -> None:
    """RXR route and site onto the dosage of the request or dispense it follows."""
    dosage = target.setdefault("dosageInstruction", [{}])[0]
    route = codeable_concept(rxr.field(1).repetition(), ctx.profile)
    if route:
        dosage["route"] = route
    site = codeable_concept(rxr.field(2).repetition(), ctx.profile)
    if site:
        dosage["site"] = site
    ctx.account(rxr, where, RXR_MAPPED)


def dispense_from_rxd(
    rxd: Segment,
    where: str,
    orc: Segment | None,
    request: str | None,
    subject: str,
    encounter: str | None,
    ctx: Context,
) -> Json:
    dispense: Json = {"resourceType": "MedicationDispense"}
    idents = order_identifiers(orc)
    if rxd.value(7):
        idents.append({"value": rxd.value(7)})
    if idents:
        dispense["identifier"] = idents
    dispense["status"] = "completed"
    medication = codeable_concept(rxd.field(2).repetition(), ctx.profile)
    if medication is None:
        ctx.issue(f"{where}-2", "no dispense/give code")
    dispense["medicationCodeableConcept"] = medication or _DATA_ABSENT
    dispense["subject"] = {"reference": subject}
    if encounter:
        dispense["context"] = {"reference": encounter}
    performer = xcn_reference(rxd.field(10).repetition())
    if performer:
        dispense["performer"] = [{"actor": performer}]
    if request:
        dispense["authorizingPrescription"] = [{"reference": request}]
    amount = quantity(rxd.value(4), rxd.field(5).repetition(), ctx.profile)
    if amount:
        dispense["quantity"] = amount
    elif rxd.value(4):
        ctx.issue(f"{where}-4", "not a number")
    handed = date_time(rxd.value(3), ctx.profile) if rxd.value(3) else None
    if handed:
        dispense["whenHandedOver"] = handed
    elif rxd.value(3):
        ctx.issue(f"{where}-3", "not a date/time")
    if number(rxd.value(1)) is None and rxd.value(1):
        ctx.issue(f"{where}-1", "dispense counter is not a number")
    ctx.account(rxd, where, RXD_MAPPED)
    return dispense
