"""Parse speed of an ADT^A04 with Chinese names: our parser next to python-hl7 and hl7apy, same run.

Prints the median per parse (and per parse + reading every field, since ours decodes fields on
demand; and parse + mapping to FHIR) and the ratios. Run: `.venv/bin/python -m bench.hl7_parse`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import hl7
from hl7apy.parser import parse_message

from mappings.hl7v2 import Message, parse
from mappings.v2_to_fhir import SenderProfile, map_message

SAMPLE = Path(__file__).resolve().parent.parent / "tests/golden/v2_to_fhir/adt_a04_v25_chinese.hl7"


def median_seconds(action: Callable[[], object], *, rounds: int, per_round: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(per_round):
            action()
        samples.append((time.perf_counter() - started) / per_round)
    return statistics.median(samples)


def read_everything(message: Message) -> int:
    """Touch every field of every segment (full split + unescape), as a mapping would at most."""
    count = 0
    for seg in message:
        for number in range(1, len(seg) + 1):
            count += len(seg.field(number).repetitions)
    return count


def main() -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace("\n", "\r")
    size = len(text.encode("utf-8"))
    ours = median_seconds(lambda: parse(text), rounds=50, per_round=2000)
    ours_full = median_seconds(lambda: read_everything(parse(text)), rounds=50, per_round=500)
    profile = SenderProfile(hospital_code="BZRMYY")
    mapped = median_seconds(lambda: map_message(parse(text), profile), rounds=20, per_round=200)
    python_hl7 = median_seconds(lambda: hl7.parse(text), rounds=20, per_round=200)
    hl7apy = median_seconds(lambda: parse_message(text), rounds=10, per_round=10)
    print(f"ADT^A04, {size} bytes UTF-8, {len(parse(text))} segments, Chinese names")
    rows = [
        ("mappings.hl7v2.parse", ours),
        ("mappings.hl7v2.parse + read every field", ours_full),
        ("parse + v2_to_fhir.map_message (3 resources)", mapped),
        ("python-hl7 hl7.parse", python_hl7),
        ("hl7apy parse_message", hl7apy),
    ]
    for name, seconds in rows:
        print(f"{name:<46} median {seconds * 1e6:10.1f} µs   {1 / seconds:12,.0f} msg/s")
    for name, theirs in (("python-hl7", python_hl7), ("hl7apy", hl7apy)):
        full = theirs / ours_full
        print(f"ratio {name} / ours: {theirs / ours:8.1f}x   (ours with every field read: {full:.1f}x)")


if __name__ == "__main__":
    main()
