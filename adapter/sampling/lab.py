"""What a closed tube becomes for the lab, and what the lab's answer says: a FHIR R4 transaction
Bundle (one Specimen for the tube, one ServiceRequest per member), the HL7 v2.5.1 OML^O21 equivalent
(one message per member: a v2 order names one patient; ORC-4, the placer group, is the tube), and the
tube and result a DiagnosticReport or ORU^R01 reports. Pure functions: no I/O, no clock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from adapter.errors import InvalidRequest
from adapter.storage.records import SamplingRegistration, SamplingTube
from mappings.hl7v2 import Hl7ParseError, message, parse, segment

TUBE_SYSTEM = "urn:dualcode:sampling-tube"
REGISTRATION_SYSTEM = "urn:dualcode:sampling-registration"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
TEST_CODE = (
    "94500-6",
    "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection",
)
SPECIMEN_TYPE = ("258529004", "Throat swab")  # 咽拭子
POSITIVE, NEGATIVE = "positive", "negative"
_RESULT_WORDS = {
    POSITIVE: {"pos", "positive", "det", "detected", "阳性", "10828004", "260373001", "a"},
    NEGATIVE: {"neg", "negative", "nd", "not detected", "阴性", "260385009", "260415000", "n"},
}


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def tube_bundle(tube: SamplingTube, members: Sequence[SamplingRegistration]) -> dict[str, Any]:
    """The transaction Bundle; conditional creates make a re-delivery create nothing twice."""
    specimen_url = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{TUBE_SYSTEM}:{tube.barcode}')}"
    tube_identifier = {"system": TUBE_SYSTEM, "value": tube.barcode}
    specimen: dict[str, Any] = {
        "resourceType": "Specimen",
        "identifier": [tube_identifier],
        "accessionIdentifier": tube_identifier,
        "status": "available",
        "type": {"coding": [{"system": SNOMED, "code": SPECIMEN_TYPE[0], "display": SPECIMEN_TYPE[1]}]},
        "note": [{"text": f"pooled {tube.pool_size}-in-1, {len(members)} members; point {tube.point}"}],
    }
    if tube.closed_at is not None:
        specimen["collection"] = {"collectedDateTime": tube.closed_at.isoformat()}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": specimen_url,
            "resource": specimen,
            "request": {
                "method": "POST",
                "url": "Specimen",
                "ifNoneExist": f"identifier={TUBE_SYSTEM}|{tube.barcode}",
            },
        }
    ]
    for member in members:
        order = {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": REGISTRATION_SYSTEM, "value": member.id}],
            "requisition": tube_identifier,
            "status": "active",
            "intent": "order",
            "code": {"coding": [{"system": LOINC, "code": TEST_CODE[0], "display": TEST_CODE[1]}]},
            "subject": {"reference": f"Patient/{member.patient_id}"},
            "authoredOn": member.registered_at.isoformat(),
            "specimen": [{"reference": specimen_url}],
            "note": [{"text": f"tube {tube.barcode} position {member.position}/{tube.pool_size}"}],
        }
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{REGISTRATION_SYSTEM}:{member.id}')}",
                "resource": order,
                "request": {
                    "method": "POST",
                    "url": "ServiceRequest",
                    "ifNoneExist": f"identifier={REGISTRATION_SYSTEM}|{member.id}",
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def oml_messages(tube: SamplingTube, members: Sequence[SamplingRegistration], *, sender: str) -> list[str]:
    """One OML^O21 (v2.5.1) per member, CR-separated segments; MSH-10 derives from the registration."""
    collected = _ts(tube.closed_at or tube.opened_at)
    texts = []
    for member in members:
        built = message(
            [
                segment(
                    "MSH",
                    {
                        3: "DUALCODE",
                        4: sender,
                        5: "LAB",
                        7: _ts(member.registered_at),
                        9: ("OML", "O21", "OML_O21"),
                        10: member.id[:20],
                        11: "P",
                        12: "2.5.1",
                        18: "UNICODE UTF-8",
                    },
                ),
                segment("PID", {1: "1", 3: (member.patient_id, "", "", "DUALCODE", "PI")}),
                segment("ORC", {1: "NW", 2: (member.id, "DUALCODE"), 4: (tube.barcode, "DUALCODE")}),
                segment("OBR", {1: "1", 2: (member.id, "DUALCODE"), 4: (*TEST_CODE, "LN"), 7: collected}),
                segment(
                    "SPM",
                    {1: "1", 2: (tube.barcode, "DUALCODE"), 4: (*SPECIMEN_TYPE, "SCT"), 17: collected},
                ),
            ]
        )
        texts.append(built.encode())
    return texts


def result_word(value: str) -> str:
    word = value.strip().lower()
    for result, words in _RESULT_WORDS.items():
        if word in words:
            return result
    raise InvalidRequest("the result must say positive or negative", expression=("result",))


def result_from_report(report: object) -> tuple[str, str]:
    """(tube, positive|negative) from a DiagnosticReport naming the tube as its specimen."""
    if not isinstance(report, dict) or report.get("resourceType") != "DiagnosticReport":
        raise InvalidRequest("send a DiagnosticReport")
    tube = None
    for specimen in report.get("specimen") or []:
        identifier = specimen.get("identifier") if isinstance(specimen, dict) else None
        if isinstance(identifier, dict) and identifier.get("system") in (TUBE_SYSTEM, None):
            tube = identifier.get("value")
    if not isinstance(tube, str) or not tube:
        raise InvalidRequest(
            f"DiagnosticReport.specimen must carry identifier {TUBE_SYSTEM}|<tube>", expression=("specimen",)
        )
    for concept in report.get("conclusionCode") or []:
        for coding in concept.get("coding") or []:
            code = str(coding.get("code", ""))
            if code:
                return tube, result_word(code)
    return tube, result_word(str(report.get("conclusion", "")))


def result_from_oru(text: str) -> tuple[str, str]:
    """(tube, positive|negative) from an ORU^R01: SPM-2 (or ORC-4) names the tube, OBX-5 the result."""
    try:
        oru = parse(text.replace("\r\n", "\r").replace("\n", "\r"))
    except Hl7ParseError as error:
        raise InvalidRequest(f"the ORU^R01 cannot be parsed: {error}") from None
    if oru.get("MSH-9.1") != "ORU":
        raise InvalidRequest("send an ORU^R01")
    tube = (oru.get("SPM-2.1") if oru.find("SPM") else "") or (oru.get("ORC-4.1") if oru.find("ORC") else "")
    if not tube or oru.find("OBX") is None:
        raise InvalidRequest("the ORU^R01 must name the tube (SPM-2 or ORC-4) and carry an OBX")
    return tube, result_word(oru.get("OBX-5.1"))
