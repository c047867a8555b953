"""The reference tables in docs/ are generated from the code; this fails when they drift."""

from __future__ import annotations

from pathlib import Path

from adapter.docgen import BEGIN, END, configuration_table, errors_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def generated_block(name: str) -> str:
    text = (DOCS / name).read_text(encoding="utf-8")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_configuration_doc_lists_every_setting_with_its_default() -> None:
    assert generated_block("configuration.md") == configuration_table(), "run: python -m adapter.docgen"


def test_errors_doc_lists_every_code() -> None:
    assert generated_block("errors.md") == errors_table(), "run: python -m adapter.docgen"
