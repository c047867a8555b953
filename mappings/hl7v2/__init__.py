"""HL7 v2: a fast parser for decoded text, an immutable message model, escaping and a builder.

msg = parse(text)
msg.segment("PID").field(3).component(4)   # -> "HOSP001"
msg.get("PID-3[2].1")                       # -> the second identifier's value
msg.encode()                                # -> the same wire text
"""

from mappings.hl7v2.build import Component, Components, FieldValue, encode_field, message, segment
from mappings.hl7v2.delimiters import DEFAULT_DELIMITERS, Delimiters
from mappings.hl7v2.errors import Hl7ParseError
from mappings.hl7v2.escape import escape, unescape
from mappings.hl7v2.model import EMPTY_FIELD, Field, Message, Repetition, Segment, split_field
from mappings.hl7v2.parse import parse
from mappings.hl7v2.path import Path, parse_path

__all__ = [
    "DEFAULT_DELIMITERS",
    "EMPTY_FIELD",
    "Component",
    "Components",
    "Delimiters",
    "Field",
    "FieldValue",
    "Hl7ParseError",
    "Message",
    "Path",
    "Repetition",
    "Segment",
    "encode_field",
    "escape",
    "message",
    "parse",
    "parse_path",
    "segment",
    "split_field",
    "unescape",
]
