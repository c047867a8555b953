"""Whatever a sender puts in the fields, mapping answers (resources, unmapped, issues), never raises,
and every resource it does produce is valid FHIR."""

from __future__ import annotations

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.hl7v2 import parse
from mappings.v2_to_fhir import SenderProfile, map_message
from tests.r4 import assert_valid_r4

SEGMENTS = ["PID", "PD1", "NK1", "PV1", "PV2", "IN1", "MRG", "FT1", "ORC", "RXE", "TQ1", "RXR", "RXD"]
SEGMENTS += ["OBR", "OBX", "NTE", "QPD", "RCP", "EVN", "ZXX", "AL1"]
VALUE = st.text(alphabet="0123456789.-+<>xXAZMFOUNIY张伟^~&\\ ", max_size=12)


@st.composite
def messages(draw: st.DrawFn) -> str:
    event = draw(
        st.sampled_from(["ADT^A04", "ADT^A40", "QBP^Q22", "QBP^Q23", "ORU^R01", "DFT^P03", "RDE^O11"])
    )
    lines = [f"MSH|^~\\&|HIS|H1|||20250601||{event}|C1|P|2.5"]
    for name in draw(st.lists(st.sampled_from(SEGMENTS), max_size=8)):
        fields = draw(st.lists(VALUE, max_size=45))
        lines.append("|".join([name, *fields]))
    return "\r".join(lines)


@settings(max_examples=300, deadline=None)
@given(messages())
def test_mapping_never_raises_and_emits_only_valid_fhir(text: str) -> None:
    result = map_message(parse(text), SenderProfile(hospital_code="H1"))
    for entry in result.entries:
        assert entry.full_url.startswith("urn:uuid:")
        get_fhir_model_class(entry.resource["resourceType"]).model_validate(entry.resource)
        assert_valid_r4(entry.resource)


def test_a_bad_identifier_override_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="neither a URI"):
        SenderProfile(identifier_types={"PI": "no-such-key"})
