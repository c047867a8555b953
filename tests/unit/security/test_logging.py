from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from adapter.security.logging import RAW_HL7_LOGGER, configure_logging, raw_hl7_logger, request_id_var

ID18 = "371602199001011234"  # synthetic


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put the root and raw loggers back afterwards."""
    root, raw = logging.getLogger(), logging.getLogger(RAW_HL7_LOGGER)
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in (root, raw)]
    yield
    for lg, handlers, level, propagate, disabled in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_a_line_with_the_standard_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    log = logging.getLogger("dualcode.test")
    log.info("first %s", "line")
    log.debug("below the level")
    log.warning("second", extra={"patient": "Patient/123", "attempt": 2})
    first, second = lines(out)
    assert set(first) == {"ts", "level", "logger", "msg", "request_id"}
    assert first["msg"] == "first line"
    assert first["level"] == "INFO" and first["logger"] == "dualcode.test"
    assert first["ts"].endswith("+00:00")
    assert second["patient"] == "Patient/123" and second["attempt"] == 2


def test_identifiers_in_messages_args_extras_and_exceptions_are_masked(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    log = logging.getLogger("dualcode.test")
    log.info("card holder %s phone 13812345678", ID18, extra={"card": f"id:{ID18}", "tags": [ID18]})
    try:
        raise ValueError(f"bad id {ID18}")
    except ValueError:
        log.exception("failed")
    text = out.getvalue()
    assert ID18 not in text and "13812345678" not in text
    info, error = lines(out)
    assert info["msg"] == "card holder 3716**********1234 phone 138****5678"
    assert info["card"] == "id:3716**********1234" and info["tags"] == ["3716**********1234"]
    assert "3716**********1234" in error["exc"]


def test_chinese_text_stays_readable(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    logging.getLogger("dualcode.test").info("患者已登记")
    assert "患者已登记" in out.getvalue()


def test_request_id_comes_from_the_context(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("dualcode.test").info("inside")
    finally:
        request_id_var.reset(token)
    logging.getLogger("dualcode.test").info("outside")
    inside, outside = lines(out)
    assert inside["request_id"] == "req-42" and outside["request_id"] is None


def test_configuring_twice_does_not_duplicate_lines(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    configure_logging("INFO", stream=out)
    logging.getLogger("dualcode.test").info("once")
    assert len(lines(out)) == 1


def test_unknown_level_is_refused(restore_logging: None) -> None:
    with pytest.raises(ValueError, match="level"):
        configure_logging("LOUD")


def test_raw_hl7_is_silent_by_default(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", stream=out)
    raw_hl7_logger().info("MSH|^~\\&|HIS|... PID|||%s", ID18)
    assert out.getvalue() == ""


def test_raw_hl7_when_enabled_goes_unmasked_to_its_own_stream_only(restore_logging: None) -> None:
    out, raw = io.StringIO(), io.StringIO()
    configure_logging("INFO", log_raw_hl7=True, stream=out, raw_hl7_stream=raw)
    raw_hl7_logger().debug("PID|||%s", ID18)
    assert out.getvalue() == ""
    (line,) = lines(raw)
    assert line["logger"] == RAW_HL7_LOGGER and line["msg"] == f"PID|||{ID18}"
    configure_logging("INFO", log_raw_hl7=False, stream=out, raw_hl7_stream=raw)
    raw_hl7_logger().debug("PID|||%s", ID18)
    assert len(lines(raw)) == 1
