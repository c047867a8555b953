"""Build segments and messages from values, escaping on the way out.

A field value is written as plain Python data, numbered as in the HL7 specification:
- ``None`` or ``""``: empty;
- ``"text"``: one component (escaped);
- a tuple: the components of one repetition; a component may itself be a tuple of subcomponents;
- a list: repetitions, each a string or a tuple as above.
Trailing empty components and repetitions are not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mappings.hl7v2.delimiters import DEFAULT_DELIMITERS, Delimiters
from mappings.hl7v2.escape import escape
from mappings.hl7v2.model import HEADER_SEGMENTS, Message, Segment

Component = str | tuple[str, ...]
Components = tuple[Component, ...]
FieldValue = str | Components | list[str | Components] | None


def encode_field(value: FieldValue, d: Delimiters = DEFAULT_DELIMITERS) -> str:
    """One field as wire text."""
    if value is None:
        return ""
    if isinstance(value, list):
        return _trim(d.repetition.join(_repetition(rep, d) for rep in value), d.repetition)
    return _repetition(value, d)


def _repetition(value: str | Components, d: Delimiters) -> str:
    if isinstance(value, str):
        return escape(value, d)
    parts = []
    for comp in value:
        if isinstance(comp, str):
            parts.append(escape(comp, d))
        else:
            parts.append(_trim(d.subcomponent.join(escape(s, d) for s in comp), d.subcomponent))
    return _trim(d.component.join(parts), d.component)


def _trim(text: str, sep: str) -> str:
    # Only raw separators can be trailing: every value inside was escaped.
    return text.rstrip(sep)


def segment(
    name: str, fields: Mapping[int, FieldValue], delimiters: Delimiters = DEFAULT_DELIMITERS
) -> Segment:
    """A segment from numbered fields. For MSH, fields 1 and 2 come from `delimiters`."""
    if len(name) != 3 or not name.isalnum():
        raise ValueError(f"segment name {name!r} is not three letters or digits")
    header = name in HEADER_SEGMENTS
    first = 3 if header else 1
    last = max((n for n, v in fields.items() if v and n >= first), default=first - 1)
    raw = [name]
    if header:
        raw += [delimiters.field, delimiters.encoding_characters]
    raw += [encode_field(fields.get(n), delimiters) for n in range(first, last + 1)]
    return Segment(name, tuple(raw), delimiters)


def message(segments: Iterable[Segment]) -> Message:
    """A message from segments that start with MSH and share one set of delimiters."""
    built = tuple(segments)
    if not built or built[0].name != "MSH":
        raise ValueError("a message starts with an MSH segment")
    delimiters = built[0].delimiters
    if any(seg.delimiters != delimiters for seg in built):
        raise ValueError("every segment of a message must use the message's delimiters")
    return Message(built, delimiters)
