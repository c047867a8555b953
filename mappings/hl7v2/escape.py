"""HL7 v2 escape sequences: decoding on read, encoding on write.

Decoded: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ (the delimiters), \\Xhh..\\ (bytes in the sender's charset),
\\.br\\ and \\.sp\\ (line breaks). \\H\\ and \\N\\ only switch highlighting, so they are dropped.
Anything else (\\Cxxyy\\, \\Mxxyyzz\\, \\Zxx\\, other formatting commands, a lone escape character)
is kept verbatim: the text must never lose what the sender wrote.
"""

from __future__ import annotations

from mappings.hl7v2.delimiters import Delimiters


def unescape(text: str, d: Delimiters) -> str:
    """The text with escape sequences decoded (fast path: no escape character, no work)."""
    esc = d.escape
    if esc not in text:
        return text
    parts = text.split(esc)
    out = [parts[0]]
    count = len(parts)
    i = 1
    while i < count:
        if i + 1 == count:  # an escape character with no closing one: literal
            out.append(esc + parts[i])
            break
        out.append(_sequence(parts[i], d))
        out.append(parts[i + 1])
        i += 2
    return "".join(out)


def _sequence(seq: str, d: Delimiters) -> str:
    if len(seq) == 1:
        simple = {"F": d.field, "S": d.component, "T": d.subcomponent, "R": d.repetition, "E": d.escape}
        if seq in simple:
            return simple[seq]
        if seq in "HN":
            return ""
    elif seq[:1] == "X" and len(seq) > 1:
        try:
            return bytes.fromhex(seq[1:]).decode(d.hex_charset)
        except (ValueError, LookupError):
            pass
    elif seq in (".br", ".sp"):
        return "\n"
    return d.escape + seq + d.escape


def escape(text: str, d: Delimiters) -> str:
    """The text with every delimiter (and CR/LF) written as an escape sequence."""
    return text.translate(d.escape_table)
