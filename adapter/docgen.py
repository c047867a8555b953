"""Generate the reference tables in docs/ from the code, so they cannot drift (tests compare them).

python -m adapter.docgen   # rewrites the generated blocks of docs/configuration.md and docs/errors.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from adapter.errors import all_error_classes
from adapter.settings import Settings

BEGIN, END = "<!-- generated:begin -->", "<!-- generated:end -->"


def configuration_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default is None else f"`{default}`"
        rows.append(f"| `DUALCODE_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


def errors_table() -> str:
    rows = [
        "| code | name | HTTP | OperationOutcome issue type | HL7 ACK | HL7 error (0357) | default message |",
        "|---|---|---|---|---|---|---|",
    ]
    for cls in all_error_classes():
        rows.append(
            f"| {cls.code} | {cls.__name__} | {cls.http_status} | {cls.issue_type} | {cls.hl7_ack} "
            f"| {cls.hl7_code} | {cls.default_message} |"
        )
    return "\n".join(rows)


def replace_generated(text: str, table: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main() -> int:
    docs = Path("docs")
    for name, table in (("configuration.md", configuration_table()), ("errors.md", errors_table())):
        path = docs / name
        path.write_text(replace_generated(path.read_text(encoding="utf-8"), table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
