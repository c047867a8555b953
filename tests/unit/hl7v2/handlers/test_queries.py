"""QBP^Q23 → RSP^K23 (PIX) and QBP^Q22 → RSP^K22 (PDQ), answered from the patient index."""

from __future__ import annotations

from adapter.hl7v2.handlers import AdtHandler, PdqQueryHandler, PixQueryHandler
from adapter.mpi import PatientIndex
from adapter.storage import MemoryStorage
from tests.unit.hl7v2.handlers.support import golden, run, segments, utf8

A04 = "adt_a04_v25_chinese"
PIX, PDQ = "qbp_q23_pix", "qbp_q22_pdq"


async def registered(*, both: bool = True) -> tuple[MemoryStorage, str]:
    """张伟 known at BZRMYY (0012345) and, with ``both``, at BZZXYY (ZY0099)."""
    storage, index = MemoryStorage(), PatientIndex()
    first = await run(storage, AdtHandler(index), golden(A04))
    if both:
        other = utf8(A04, **{"BZRMYY": "BZZXYY", "0012345": "ZY0099", "A04-0001": "A04-0002"})
        await run(storage, AdtHandler(index), other)
    assert first.patient_id is not None
    return storage, first.patient_id


def cxs(response: bytes) -> list[list[str]]:
    return [pid[3].split("~") for pid in segments(response, "PID")]


async def test_pix_returns_the_persons_identifiers_in_the_wanted_domains() -> None:
    storage, patient_id = await registered()
    result = await run(storage, PixQueryHandler(), golden(PIX))
    assert result.response is not None and result.patient_id == patient_id
    (msh,) = segments(result.response, "MSH")
    assert msh[8] == "RSP^K23^RSP_K23" and (msh[2], msh[3], msh[4], msh[5]) == (
        "DUALCODE",
        "BZWJW",
        "HIS",
        "BZRMYY",
    )
    assert segments(result.response, "MSA") == [["MSA", "AA", "Q23-0001"]]
    assert segments(result.response, "QAK")[0][:3] == ["QAK", "Q231", "OK"]
    query_qpd = next(s for s in golden(PIX).decode().split("\r") if s.startswith("QPD"))
    assert ["|".join(s) for s in segments(result.response, "QPD")] == [query_qpd]
    (identifiers,) = cxs(result.response)
    assert sorted(c.split("^")[0] for c in identifiers) == ["371602198503151238", "ZY0099"]
    assert not any(c.startswith("0012345") for c in identifiers)  # the source is not repeated


async def test_pix_with_nothing_in_the_wanted_domains_is_nf() -> None:
    storage, _ = await registered(both=False)
    query = utf8(PIX, **{"^^^&2.16.840.1.113883.2.23.1.19.1&ISO~": ""})
    result = await run(storage, PixQueryHandler(), query)
    assert result.response is not None
    assert segments(result.response, "MSA")[0][1] == "AA" and segments(result.response, "QAK")[0][2] == "NF"
    assert segments(result.response, "PID") == []


async def test_pix_for_an_unknown_identifier_or_domain_is_ae_204_at_qpd_3() -> None:
    storage, _ = await registered()
    for query, location in (
        (utf8(PIX, **{"0012345^^^BZRMYY^MR": "9999999^^^BZRMYY^MR"}), "QPD^1^3^1^1"),
        (utf8(PIX, **{"0012345^^^BZRMYY^MR": "0012345^^^XYZ^ZZ"}), "QPD^1^3^1^4"),
    ):
        result = await run(storage, PixQueryHandler(), query)
        assert result.response is not None
        assert (
            segments(result.response, "MSA")[0][1] == "AE" and segments(result.response, "QAK")[0][2] == "AE"
        )
        (err,) = segments(result.response, "ERR")
        assert err[2] == location and err[3].startswith("204^") and err[5].startswith("DC-4008^")


async def test_pdq_finds_the_person_with_an_identifier_in_the_wanted_domain() -> None:
    storage, patient_id = await registered()
    result = await run(storage, PdqQueryHandler(), golden(PDQ))
    assert result.response is not None and result.resources == (f"Patient/{patient_id}",)
    (msh,) = segments(result.response, "MSH")
    assert msh[8] == "RSP^K22^RSP_K21"
    assert segments(result.response, "QAK")[0][:7] == ["QAK", "Q221", "OK", "IHE PDQ Query", "1", "1", "0"]
    (pid,) = segments(result.response, "PID")
    assert pid[3].split("^")[:4] == ["ZY0099", "", "", "BZZXYY"] and "~" not in pid[3]  # QPD-8 only
    assert pid[5].startswith("张") and pid[7] == "19850315" and pid[8] == "M"


async def test_pdq_nf_and_without_a_domain_every_identifier() -> None:
    storage, _ = await registered(both=False)
    nobody = await run(storage, PdqQueryHandler(), golden(PDQ))
    assert nobody.response is not None and segments(nobody.response, "QAK")[0][2] == "NF"
    anywhere = await run(storage, PdqQueryHandler(), utf8(PDQ, **{"|||||^^^BZZXYY": ""}))
    assert anywhere.response is not None
    (pid,) = segments(anywhere.response, "PID")
    assert "0012345^^^BZRMYY^MR" in pid[3].split("~")
    elsewhere = await run(storage, PdqQueryHandler(), utf8(PDQ, **{"@PID.11.3^滨州市": "@PID.11.3^北京市"}))
    assert elsewhere.response is not None and segments(elsewhere.response, "QAK")[0][2] == "NF"


async def test_pdq_without_a_searchable_parameter_is_ar_101() -> None:
    storage, _ = await registered()
    query = golden(PDQ).decode()
    qpd = next(s for s in query.split("\r") if s.startswith("QPD"))
    only_city = query.replace(qpd, "QPD|IHE PDQ Query|Q221|@PID.11.3^滨州市").encode()
    result = await run(storage, PdqQueryHandler(), only_city)
    assert result.response is not None
    assert segments(result.response, "MSA")[0][1] == "AR" and segments(result.response, "QAK")[0][2] == "AR"
    (err,) = segments(result.response, "ERR")
    assert err[2] == "QPD^1^3" and err[3].startswith("101^")
