"""The service's MLLP listener, reached by python-hl7's `mllp_send` like a hospital system would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import RunningService

pytestmark = pytest.mark.e2e

# A type no binding serves (ADT^A04 is bound): the gateway answers AR "no destination" with ERR.
ADT = (
    "MSH|^~\\&|HIS|H001|DUALCODE|CITY|20261129101500||ORM^O01^ORM_O01|MSG0001|P|2.5\r"
    "EVN|A04|20261129101500\r"
    "PID|1||P0001^^^H001^MR||测^试甲||19491231|F\r"
)


def test_every_message_gets_an_ack_with_err(service: RunningService, tmp_path: Path) -> None:
    message = tmp_path / "adt.hl7"
    # mllp_send reads a file of MLLP frames (VT … FS CR), as a HIS would have logged them.
    message.write_bytes(b"\x0b" + ADT.encode("utf-8") + b"\x1c\r")
    sent = subprocess.run(
        [
            str(Path(sys.executable).parent / "mllp_send"),
            "--port",
            str(service.mllp_port),
            "--file",
            str(message),
            "127.0.0.1",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    ack = sent.stdout.decode("utf-8").strip("\x0b\x1c\r\n")
    segments = {line.split("|")[0]: line.split("|") for line in ack.replace("\n", "\r").split("\r") if line}
    assert segments["MSA"][1] == "AR"
    assert segments["MSA"][2] == "MSG0001"
    assert "ERR" in segments
    assert "DC-4001" in "|".join(segments["ERR"])
