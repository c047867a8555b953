"""The immutable message model: Message -> Segment -> Field -> Repetition -> components/subcomponents.

Segments keep their fields as the raw (escaped) wire text; a Field is split and unescaped only when
asked for. That keeps parsing to two string splits per segment, and encoding a parsed message gives
back exactly what was received. Numbering follows HL7: field 1 is the first after the segment name,
and for MSH (and the batch headers) field 1 is the field separator itself and field 2 MSH-2.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mappings.hl7v2.delimiters import Delimiters
from mappings.hl7v2.escape import unescape
from mappings.hl7v2.path import Path, parse_path

HEADER_SEGMENTS = frozenset({"MSH", "BHS", "FHS"})


@dataclass(frozen=True, slots=True)
class Repetition:
    """One repetition of a field: components, each a tuple of (unescaped) subcomponents."""

    components: tuple[tuple[str, ...], ...]

    def component(self, number: int) -> str:
        """Component `number` (1-based); its first subcomponent when it has several; "" if absent."""
        if 0 < number <= len(self.components):
            return self.components[number - 1][0]
        return ""

    def subcomponent(self, number: int, sub: int) -> str:
        subs = self.subcomponents(number)
        return subs[sub - 1] if 0 < sub <= len(subs) else ""

    def subcomponents(self, number: int) -> tuple[str, ...]:
        return self.components[number - 1] if 0 < number <= len(self.components) else ()

    @property
    def value(self) -> str:
        return self.component(1)

    @property
    def is_empty(self) -> bool:
        return not any(any(subs) for subs in self.components)


EMPTY_REPETITION = Repetition((("",),))


@dataclass(frozen=True, slots=True)
class Field:
    """A field: its raw wire text and its repetitions."""

    raw: str
    repetitions: tuple[Repetition, ...]

    def repetition(self, number: int = 1) -> Repetition:
        if 0 < number <= len(self.repetitions):
            return self.repetitions[number - 1]
        return EMPTY_REPETITION

    def component(self, number: int, repetition: int = 1) -> str:
        return self.repetition(repetition).component(number)

    @property
    def value(self) -> str:
        """The first component of the first repetition, unescaped."""
        return self.repetition(1).component(1)

    @property
    def is_empty(self) -> bool:
        return not self.raw

    def __iter__(self) -> Iterator[Repetition]:
        return iter(self.repetitions)

    def __len__(self) -> int:
        return len(self.repetitions)


EMPTY_FIELD = Field("", ())


def split_field(raw: str, d: Delimiters) -> Field:
    """Split one raw field into repetitions, components and subcomponents, unescaping each part."""
    if not raw:
        return EMPTY_FIELD
    if _plain(raw, d):
        return Field(raw, (Repetition(((raw,),)),))  # the common case: a plain value
    esc, sub, comp_sep, rep_sep = d.escape, d.subcomponent, d.component, d.repetition
    reps = []
    for rep in raw.split(rep_sep) if rep_sep in raw else (raw,):
        comps: tuple[tuple[str, ...], ...]
        if sub not in rep and esc not in rep:
            comps = tuple([(c,) for c in rep.split(comp_sep)])
        else:
            comps = tuple([_subcomponents(c, d) for c in rep.split(comp_sep)])
        reps.append(Repetition(comps))
    return Field(raw, tuple(reps))


def _plain(raw: str, d: Delimiters) -> bool:
    """No separator and no escape in it: one repetition, one component, the text as it is."""
    return not (d.component in raw or d.repetition in raw or d.subcomponent in raw or d.escape in raw)


def _subcomponents(comp: str, d: Delimiters) -> tuple[str, ...]:
    parts = comp.split(d.subcomponent)
    return tuple([unescape(p, d) if d.escape in p else p for p in parts])


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment. `fields[0]` is the name and `fields[n]` the raw text of field n."""

    name: str
    fields: tuple[str, ...]
    delimiters: Delimiters

    def raw(self, number: int) -> str:
        """Field `number` as on the wire (still escaped); "" when absent."""
        return self.fields[number] if 0 < number < len(self.fields) else ""

    def field(self, number: int) -> Field:
        raw = self.raw(number)
        if number <= 2 and self.name in HEADER_SEGMENTS:  # MSH-1 and MSH-2 are literal
            return Field(raw, (Repetition(((raw,),)),)) if raw else EMPTY_FIELD
        return split_field(raw, self.delimiters)

    def value(self, number: int, component: int = 1, repetition: int = 1) -> str:
        """Shortcut for `field(number).component(component, repetition)`."""
        raw = self.raw(number)
        if not raw:
            return ""
        if _plain(raw, self.delimiters):  # most are: what split_field gives, without building a Field
            return raw if component == 1 and repetition == 1 else ""
        return self.field(number).component(component, repetition)

    def get(self, path: str) -> str:
        """A value by path relative to the segment: ``3``, ``3[2]``, ``3.4``, ``3[1].4.2``."""
        return self.at(parse_path(f"{self.name}-{path}"))

    def at(self, path: Path) -> str:
        if path.field is None:
            return self.encode()
        f = self.field(path.field)
        rep = f.repetition(path.repetition)
        if path.component is None:
            return rep.component(1) if len(rep.components) <= 1 else _rejoin(rep, self.delimiters)
        if path.subcomponent is None:
            return rep.component(path.component)
        return rep.subcomponent(path.component, path.subcomponent)

    def __len__(self) -> int:
        """The number of the last field present."""
        return len(self.fields) - 1

    def encode(self) -> str:
        """The segment as wire text (MSH-1 is the separator between the name and MSH-2)."""
        if self.name in HEADER_SEGMENTS:
            return self.delimiters.field.join((self.name, *self.fields[2:]))
        return self.delimiters.field.join(self.fields)


def _rejoin(rep: Repetition, d: Delimiters) -> str:
    # A whole composite asked for as text: components joined by the component separator, unescaped.
    return d.component.join(d.subcomponent.join(subs) for subs in rep.components)


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed (or built) message: every segment in order, unknown and Z-segments included."""

    segments: tuple[Segment, ...]
    delimiters: Delimiters

    def find(self, name: str, occurrence: int = 1) -> Segment | None:
        """The `occurrence`-th segment called `name`, or None."""
        seen = 0
        for seg in self.segments:
            if seg.name == name:
                seen += 1
                if seen == occurrence:
                    return seg
        return None

    def segment(self, name: str, occurrence: int = 1) -> Segment:
        """Like `find`, but a missing segment raises KeyError."""
        seg = self.find(name, occurrence)
        if seg is None:
            raise KeyError(f"{name}[{occurrence}]")
        return seg

    def all(self, name: str) -> tuple[Segment, ...]:
        return tuple(seg for seg in self.segments if seg.name == name)

    def get(self, path: str) -> str:
        """A value by path: ``PID-3``, ``PID-3[2].4``, ``OBX[2]-5``, ``PID.5.1``; "" if absent."""
        parsed = parse_path(path)
        seg = self.find(parsed.segment, parsed.occurrence)
        return "" if seg is None else seg.at(parsed)

    @property
    def header(self) -> Segment:
        return self.segments[0]

    @property
    def message_type(self) -> str:
        return self.header.value(9, 1)

    @property
    def trigger_event(self) -> str:
        return self.header.value(9, 2)

    @property
    def structure(self) -> str:
        return self.header.value(9, 3)

    @property
    def control_id(self) -> str:
        return self.header.value(10)

    @property
    def version(self) -> str:
        return self.header.value(12)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def encode(self) -> str:
        """Wire text: segments joined and terminated by CR."""
        return "".join(seg.encode() + "\r" for seg in self.segments)
