"""Charges and dispenses back to HL7 v2: ChargeItem -> DFT^P03 (FT1), MedicationDispense -> RDS^O13
(ORC + RXD, RXR). The inverse of mappings.v2_to_fhir.charge / pharmacy for the fields they map, so a
DFT or RDS mapped to FHIR and back keeps them (tests/unit/mappings/v2/test_round_trip_orders.py)."""

from __future__ import annotations

from mappings.fhir_to_v2.datatypes import Json, ce, coding_system_name, dtm, xcn
from mappings.fhir_to_v2.message import Envelope, _evn, _msh
from mappings.fhir_to_v2.segments import Fields, pid, pv1
from mappings.hl7v2 import Components, Message, message, segment
from mappings.v2_to_fhir.profile import DEFAULT_PROFILE, SenderProfile
from mappings.v2_to_fhir.systems import DATA_ABSENT_REASON, EXT_TRANSACTION_TYPE, EXT_UNIT_PRICE

_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def dft_message(
    patient: Json,
    charges: list[Json],
    envelope: Envelope,
    *,
    encounter: Json | None = None,
    profile: SenderProfile = DEFAULT_PROFILE,
) -> Message:
    """DFT^P03: MSH, EVN, PID, PV1, one FT1 per ChargeItem."""
    if not charges:
        raise ValueError("a DFT needs at least one charge")
    segments = [
        _msh(envelope, "P03", "DFT_P03", "DFT"),
        _evn(envelope, "P03"),
        segment("PID", pid(patient, profile)),
        segment("PV1", pv1(encounter, profile)),
    ]
    segments += [segment("FT1", ft1(charge, n)) for n, charge in enumerate(charges, 1)]
    return message(segments)


def rds_message(
    patient: Json,
    dispense: Json,
    envelope: Envelope,
    *,
    encounter: Json | None = None,
    profile: SenderProfile = DEFAULT_PROFILE,
) -> Message:
    """RDS^O13: MSH, PID, PV1, ORC (RE, placer/filler numbers), RXD, RXR (the route, when given)."""
    segments = [
        _msh(envelope, "O13", "RDS_O13", "RDS"),
        segment("PID", pid(patient, profile)),
        segment("PV1", pv1(encounter, profile)),
        segment("ORC", orc(dispense)),
        segment("RXD", rxd(dispense)),
    ]
    routes = [d.get("route") for d in dispense.get("dosageInstruction", []) if d.get("route")]
    if routes:
        segments.append(segment("RXR", {1: ce(routes[0])}))
    return message(segments)


def ft1(charge: Json, number: int) -> Fields:
    identifiers = [i.get("value", "") for i in charge.get("identifier", []) if i.get("value")]
    kind = _extension(charge, EXT_TRANSACTION_TYPE)
    unit = _extension(charge, EXT_UNIT_PRICE)
    code = charge.get("code")
    absent = _absent(code)
    period = charge.get("occurrencePeriod")
    notes = [n.get("text", "") for n in charge.get("note", [])]
    batch = next((n[6:] for n in notes if n.startswith("batch ")), "")
    fields: Fields = {
        1: str(number),
        2: identifiers[0] if identifiers else "",
        3: batch,
        4: (dtm(period.get("start", "")), dtm(period.get("end", "")))
        if period
        else dtm(charge.get("occurrenceDateTime", "")),
        5: dtm(charge.get("enteredDate", "")),
        6: (kind or {}).get("valueCoding", {}).get("code", ""),
        7: None if absent else ce(code),
        10: _number(charge.get("quantity", {}).get("value")),
        11: _money(charge.get("priceOverride")),
        12: _money((unit or {}).get("valueMoney")),
        13: _department(charge.get("costCenter")),
        19: [c for c in (ce(r) for r in charge.get("reason", [])) if c is not None],
        20: [p for p in (xcn(p.get("actor", {})) for p in charge.get("performer", [])) if p is not None],
        21: xcn(charge.get("enterer", {})),
        25: ce(charge.get("productCodeableConcept")),
    }
    return fields


def orc(dispense: Json) -> Fields:
    fields: Fields = {1: "RE"}
    for identifier in dispense.get("identifier", []):
        codes = [c.get("code") for c in identifier.get("type", {}).get("coding", [])]
        where = 2 if "PLAC" in codes else 3 if "FILL" in codes else None
        if where is not None and where not in fields:
            fields[where] = (identifier.get("value", ""), identifier.get("assigner", {}).get("display", ""))
    return fields


def rxd(dispense: Json) -> Fields:
    untyped = [i["value"] for i in dispense.get("identifier", []) if not i.get("type") and i.get("value")]
    amount = dispense.get("quantity", {})
    medication = dispense.get("medicationCodeableConcept")
    absent = _absent(medication)
    performers = [xcn(p.get("actor", {})) for p in dispense.get("performer", [])]
    return {
        1: "1",
        2: None if absent else ce(medication),
        3: dtm(dispense.get("whenHandedOver", "")),
        4: _number(amount.get("value")),
        5: _unit(amount),
        7: untyped[0] if untyped else "",
        10: next((p for p in performers if p is not None), None),
    }


def _absent(concept: Json | None) -> bool:
    """A concept that only says it is missing (data-absent-reason): no v2 value."""
    extensions = (concept or {}).get("extension", [])
    return any(e.get("url") == DATA_ABSENT_REASON for e in extensions)


def _extension(resource: Json, url: str) -> Json | None:
    return next((e for e in resource.get("extension", []) if e.get("url") == url), None)


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _money(money: Json | None) -> Components | None:
    """Money -> CP (CP.1 is an MO: amount & currency)."""
    if not money or "value" not in money:
        return None
    value = money["value"]
    amount = f"{value:.2f}" if isinstance(value, int | float) and round(value, 2) == value else _number(value)
    return ((amount, money.get("currency", "")),)


def _department(center: Json | None) -> Components | None:
    display = (center or {}).get("display", "")
    return ("", display) if display else None


def _unit(amount: Json) -> Components | None:
    unit, code, system = amount.get("unit", ""), amount.get("code", ""), amount.get("system", "")
    if not unit and not code:
        return None
    if system == "http://unitsofmeasure.org":
        return (code, unit, "UCUM")
    return (code or unit, unit, coding_system_name(system) if system and code else "")
