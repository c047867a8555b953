"""bench.wrk reads wrk's report (as wrk 4.1 prints it) into figures; the benches quote them."""

from __future__ import annotations

import pytest

from bench.wrk import parse_output, post_load

REPORT = """Running 15s test @ http://127.0.0.1:36705/fhir/Patient/$resolve-card
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   336.64ms  353.04ms   1.96s    85.09%
    Req/Sec    33.40     59.25   363.00     93.19%
  Latency Distribution
     50%  262.20ms
     75%  519.13ms
     90%  860.04ms
     99%    1.47s
  850 requests in 15.05s, 3.41MB read
  Socket errors: connect 0, read 0, write 0, timeout 5
  Non-2xx or 3xx responses: 3
Requests/sec:     56.48
Transfer/sec:    232.25KB
"""


def test_the_report_becomes_figures() -> None:
    result = parse_output("resolve", REPORT)
    assert (result.requests, result.failed) == (850, 8)
    assert result.seconds == pytest.approx(15.05)
    assert (result.p50_ms, result.p99_ms) == (pytest.approx(262.2), pytest.approx(1470.0))
    assert result.per_second == pytest.approx(850 / 15.05)
    assert "(wrk)" in result.line()


def test_microseconds_and_a_clean_run() -> None:
    clean = REPORT.replace("262.20ms", "812.00us").replace(
        "  Socket errors: connect 0, read 0, write 0, timeout 5\n", ""
    )
    result = parse_output("hello", clean.replace("  Non-2xx or 3xx responses: 3\n", ""))
    assert (result.failed, result.p50_ms) == (0, pytest.approx(0.812))


def test_a_report_without_totals_is_refused() -> None:
    with pytest.raises(RuntimeError, match="no totals"):
        parse_output("x", "unable to connect to 127.0.0.1:1 Connection refused\n")


def test_load_goes_to_loopback_only() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        post_load("x", "http://example.org/", [b"{}"], headers={})
