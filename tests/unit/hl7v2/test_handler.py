"""The stub handler's answers: AR no destination, AR for no MSH, AE for undecodable text."""

from __future__ import annotations

from adapter.hl7v2.handler import Peer, RejectAll

PEER = Peer(host="127.0.0.1", port=40000)


def fields(ack: bytes, segment: str, codec: str = "utf-8") -> list[str]:
    return next(s for s in ack.decode(codec).split("\r") if s.startswith(segment)).split("|")


async def test_every_message_is_rejected_with_no_destination() -> None:
    ack = await RejectAll()(b"MSH|^~\\&|HIS|H|DC|DC|2024||ORU^R01^ORU_R01|R1|P|2.5\rOBR|1", PEER)
    assert fields(ack, "MSA")[:3] == ["MSA", "AR", "R1"]
    err = fields(ack, "ERR")
    assert err[2:4] == ["MSH^1^9", "200^Unsupported message type^HL70357"]
    assert err[5].startswith("DC-4001^no destination for message type ORU\\S\\R01")


async def test_message_without_msh_gets_ar_with_empty_msa_2() -> None:
    ack = await RejectAll()(b"PID|||1", PEER)
    assert fields(ack, "MSA")[:3] == ["MSA", "AR", ""]
    assert fields(ack, "ERR")[5].startswith("DC-4002^")


async def test_text_that_does_not_decode_gets_ae_102_in_the_senders_charset() -> None:
    raw = "MSH|^~\\&|HIS|H|DC|DC|2024||ADT^A04|U1|P|2.5||||||UNICODE UTF-8\rPID|||1||张三".encode("gbk")
    ack = await RejectAll()(raw, PEER)
    assert fields(ack, "MSA")[:3] == ["MSA", "AE", "U1"]
    err = fields(ack, "ERR")
    assert err[2:4] == ["PID^1^5", "102^Data type error^HL70357"]
    assert "张" not in ack.decode()


async def test_configured_charset_reads_gbk_without_msh_18() -> None:
    raw = "MSH|^~\\&|HIS|协和|DC|DC|2024||ADT^A04|G1|P|2.4\rPID|||1||张三".encode("gbk")
    ack = await RejectAll(default_codec="gb18030")(raw, PEER)
    assert fields(ack, "MSA", "gbk")[:3] == ["MSA", "AR", "G1"]
    assert fields(ack, "MSH", "gbk")[5] == "协和"
