"""Structured logs: one JSON object a line, personal identifiers masked on the way out.

Every line has ts, level, logger, msg and request_id, plus any ``extra=`` fields. The message, string
extras (also inside lists and dicts) and exception text pass through ``mask_text``: masking happens in
the formatter, the one place every record crosses, so no call site can forget it.

Raw HL7 carries names and ID numbers by design, so it has its own logger (``dualcode.phi.hl7``),
unmasked, never propagated to the main log, and silent unless ``log_raw_hl7`` is turned on.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from adapter.security.masking import mask_text

RAW_HL7_LOGGER = "dualcode.phi.hl7"

# Set by the HTTP middleware / MLLP connection handler for the duration of one request or message.
request_id_var: ContextVar[str | None] = ContextVar("dualcode_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
# uvicorn adds color_message, a duplicate of msg with terminal colours: not worth a field.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_RESERVED = ("ts", "level", "logger", "msg", "request_id", "exc")


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else is logged by its text, which may carry personal data like any other string.
    return mask_text(str(value))


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line. ``mask=False`` only for the opt-in raw HL7 logger."""

    def __init__(self, *, mask: bool = True) -> None:
        super().__init__()
        self._mask = mask

    def format(self, record: logging.LogRecord) -> str:
        clean = _masked if self._mask else (lambda v: v)
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": clean(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in _RESERVED:
                line[key] = clean(value)
        if record.exc_info:
            line["exc"] = clean(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = clean(record.exc_text)
        # ensure_ascii=False keeps Chinese text readable; default=str never lets a log call raise.
        return json.dumps(line, ensure_ascii=False, default=str)


class _OwnedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handlers configure_logging installed, so calling it again replaces, not stacks."""


def configure_logging(
    level: str,
    *,
    log_raw_hl7: bool = False,
    stream: IO[str] | None = None,
    raw_hl7_stream: IO[str] | None = None,
) -> None:
    """Send every log record as masked JSON lines to ``stream`` (default stderr).

    ``log_raw_hl7`` (settings.log_raw_hl7) enables the raw HL7 logger, written unmasked to
    ``raw_hl7_stream`` (default: ``stream``); point it at a separately protected file in production.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    out = stream if stream is not None else sys.stderr

    root = logging.getLogger()
    _replace_owned_handlers(root, _OwnedHandler(out), JsonFormatter())
    root.setLevel(numeric)

    raw = logging.getLogger(RAW_HL7_LOGGER)
    raw.propagate = False  # raw PHI must never reach the main (masked, widely shipped) log
    if log_raw_hl7:
        _replace_owned_handlers(raw, _OwnedHandler(raw_hl7_stream or out), JsonFormatter(mask=False))
        raw.setLevel(logging.DEBUG)
        raw.disabled = False
    else:
        _replace_owned_handlers(raw, None, None)
        raw.setLevel(logging.CRITICAL + 1)
        raw.disabled = True


def raw_hl7_logger() -> logging.Logger:
    """The PHI-bearing logger for raw HL7 frames; silent unless configure_logging enabled it."""
    return logging.getLogger(RAW_HL7_LOGGER)


# Off from import on, so raw HL7 logged before (or without) configure_logging goes nowhere.
raw_hl7_logger().propagate = False
raw_hl7_logger().disabled = True


def _replace_owned_handlers(
    logger: logging.Logger, handler: logging.Handler | None, formatter: logging.Formatter | None
) -> None:
    for old in [h for h in logger.handlers if isinstance(h, _OwnedHandler)]:
        logger.removeHandler(old)
    if handler is not None and formatter is not None:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
