"""The five delimiters of an HL7 v2 message (MSH-1 and MSH-2), and the escaping they imply."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

from mappings.hl7v2.errors import Hl7ParseError

DEFAULT_ENCODING_CHARACTERS = "^~\\&"


@dataclass(frozen=True, slots=True)
class Delimiters:
    """Field, component, repetition, escape and subcomponent separators.

    `hex_charset` names the charset that `\\Xhh\\` escape bytes are decoded with: the parser works on
    text the transport already decoded, so it must be told (the sender's charset, UTF-8 by default).
    """

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    hex_charset: str = "utf-8"
    # Character -> escape sequence, for str.translate (built once per delimiter set).
    escape_table: dict[int, str] = dataclass_field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        chars = (self.field, self.component, self.repetition, self.escape, self.subcomponent)
        if any(len(c) != 1 for c in chars) or len(set(chars)) != 5:
            raise Hl7ParseError("delimiters", "MSH-1/MSH-2 must give five distinct single characters")
        e = self.escape
        table = {
            ord(self.escape): f"{e}E{e}",
            ord(self.field): f"{e}F{e}",
            ord(self.component): f"{e}S{e}",
            ord(self.subcomponent): f"{e}T{e}",
            ord(self.repetition): f"{e}R{e}",
            # Segment terminators inside a value would cut the segment; send them as hex.
            ord("\r"): f"{e}X0D{e}",
            ord("\n"): f"{e}X0A{e}",
        }
        object.__setattr__(self, "escape_table", table)

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as written: component, repetition, escape, subcomponent."""
        return self.component + self.repetition + self.escape + self.subcomponent

    @classmethod
    def from_msh(cls, field_sep: str, encoding_chars: str, *, hex_charset: str = "utf-8") -> Delimiters:
        """Delimiters read from MSH-1 and MSH-2; a short MSH-2 takes HL7's defaults for the rest."""
        chars = encoding_chars + DEFAULT_ENCODING_CHARACTERS[len(encoding_chars) :]
        return cls(field_sep, chars[0], chars[1], chars[2], chars[3], hex_charset)


DEFAULT_DELIMITERS = Delimiters()
