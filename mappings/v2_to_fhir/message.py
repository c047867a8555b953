"""One message -> V2Result: walk the segments in order, each handled by the table below.

Segments attach to the nearest resource before them (PD1/NK1 to the patient, PV2 to the encounter,
TQ1/RXR/NTE to the order, OBX to its OBR). A segment with no handler is reported, Z-segments
included: they stay on the stored message and can be mapped per sender later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mappings.hl7v2 import Message, Segment
from mappings.v2_to_fhir.charge import charge_from_ft1
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.coverage import coverage_from_in1
from mappings.v2_to_fhir.datatypes import Json
from mappings.v2_to_fhir.encounter import add_pv2, encounter_from_pv1, is_placeholder_pv1
from mappings.v2_to_fhir.merge import merge_from_mrg
from mappings.v2_to_fhir.patient import add_nk1, add_pd1, patient_from_pid
from mappings.v2_to_fhir.pharmacy import ORC_MAPPED, add_rxr, add_tq1, dispense_from_rxd, request_from_rxe
from mappings.v2_to_fhir.profile import DEFAULT_PROFILE, SenderProfile
from mappings.v2_to_fhir.query import limit_from_rcp, pdq_query, pix_query
from mappings.v2_to_fhir.result import MergeInstruction, PdqQuery, PixQuery, V2Result
from mappings.v2_to_fhir.results import add_note, observation_from_obx, report_from_obr


@dataclass
class _State:
    ctx: Context
    trigger: str
    patient: Json | None = None
    patient_url: str = ""
    encounter: Json | None = None
    encounter_url: str | None = None
    orc: Segment | None = None
    request_url: str | None = None
    report: Json | None = None
    last: Json | None = None  # the resource NTE/RXR attach to
    merges: list[MergeInstruction] = field(default_factory=list)
    qpd: tuple[Segment, str] | None = None
    limit: int | None = None


Handler = Callable[[_State, Segment, str], None]


def _needs_patient(state: _State, where: str) -> bool:
    if state.patient is None:
        state.ctx.skip(where, "segment not mapped: no PID before it")
        return False
    return True


def _evn(state: _State, seg: Segment, where: str) -> None:
    state.ctx.account(seg, where, (1, 2, 6))


def _pid(state: _State, seg: Segment, where: str) -> None:
    state.patient = patient_from_pid(seg, where, state.ctx)
    state.patient_url = state.ctx.add(state.patient)
    state.encounter = state.encounter_url = None
    state.last = state.patient


def _pd1(state: _State, seg: Segment, where: str) -> None:
    if state.patient is not None:
        add_pd1(state.patient, seg, where, state.ctx)
    else:
        _needs_patient(state, where)


def _nk1(state: _State, seg: Segment, where: str) -> None:
    if state.patient is not None:
        add_nk1(state.patient, seg, where, state.ctx)
    else:
        _needs_patient(state, where)


def _pv1(state: _State, seg: Segment, where: str) -> None:
    if not _needs_patient(state, where):
        return
    if is_placeholder_pv1(seg):
        return
    state.encounter = encounter_from_pv1(seg, where, state.trigger, state.patient_url, state.ctx)
    state.encounter_url = state.ctx.add(state.encounter)
    state.last = state.encounter


def _pv2(state: _State, seg: Segment, where: str) -> None:
    if state.encounter is None:
        state.ctx.skip(where, "segment not mapped: no visit (PV1) before it")
        return
    add_pv2(state.encounter, seg, where, state.ctx)


def _in1(state: _State, seg: Segment, where: str) -> None:
    if _needs_patient(state, where):
        state.ctx.add(coverage_from_in1(seg, where, state.patient_url, state.ctx))


def _mrg(state: _State, seg: Segment, where: str) -> None:
    if _needs_patient(state, where):
        assert state.patient is not None
        surviving = list(state.patient.get("identifier", []))
        state.merges.append(merge_from_mrg(seg, where, surviving, state.ctx))


def _ft1(state: _State, seg: Segment, where: str) -> None:
    if _needs_patient(state, where):
        state.last = charge_from_ft1(seg, where, state.patient_url, state.encounter_url, state.ctx)
        state.ctx.add(state.last)


def _orc(state: _State, seg: Segment, where: str) -> None:
    state.orc, state.request_url, state.report = seg, None, None
    state.ctx.account(seg, where, ORC_MAPPED)


def _rxe(state: _State, seg: Segment, where: str) -> None:
    if _needs_patient(state, where):
        ctx = state.ctx
        state.last = request_from_rxe(seg, where, state.orc, state.patient_url, state.encounter_url, ctx)
        state.request_url = ctx.add(state.last)


def _tq1(state: _State, seg: Segment, where: str) -> None:
    if state.last is not None and state.last["resourceType"] == "MedicationRequest":
        add_tq1(state.last, seg, where, state.ctx)
    else:
        state.ctx.skip(where, "segment not mapped: no RXE before it")


def _rxr(state: _State, seg: Segment, where: str) -> None:
    if state.last is not None and state.last["resourceType"] in ("MedicationRequest", "MedicationDispense"):
        add_rxr(state.last, seg, where, state.ctx)
    else:
        state.ctx.skip(where, "segment not mapped: no RXE/RXD before it")


def _rxd(state: _State, seg: Segment, where: str) -> None:
    if _needs_patient(state, where):
        args = (state.orc, state.request_url, state.patient_url, state.encounter_url, state.ctx)
        state.last = dispense_from_rxd(seg, where, *args)
        state.ctx.add(state.last)


def _obr(state: _State, seg: Segment, where: str) -> None:
    if _needs_patient(state, where):
        state.report = report_from_obr(seg, where, state.patient_url, state.encounter_url, state.ctx)
        state.ctx.add(state.report)
        state.last = state.report


def _obx(state: _State, seg: Segment, where: str) -> None:
    if not _needs_patient(state, where):
        return
    effective = state.report.get("effectiveDateTime") if state.report else None
    obs = observation_from_obx(seg, where, state.patient_url, state.encounter_url, effective, state.ctx)
    url = state.ctx.add(obs)
    if state.report is not None:
        state.report.setdefault("result", []).append({"reference": url})
    state.last = obs


_NOTED = frozenset(
    {"Observation", "DiagnosticReport", "MedicationRequest", "MedicationDispense", "ChargeItem"}
)


def _nte(state: _State, seg: Segment, where: str) -> None:
    if state.last is not None and state.last["resourceType"] in _NOTED:
        add_note(state.last, seg, where, state.ctx)
    else:
        state.ctx.skip(where, "segment not mapped: no resource with notes before it")


def _qpd(state: _State, seg: Segment, where: str) -> None:
    state.qpd = (seg, where)


def _rcp(state: _State, seg: Segment, where: str) -> None:
    state.limit = limit_from_rcp(seg, where, state.ctx)


HANDLERS: dict[str, Handler] = {
    "MSH": lambda state, seg, where: None,  # the envelope: read by the transport and the router
    "EVN": _evn,
    "PID": _pid,
    "PD1": _pd1,
    "NK1": _nk1,
    "PV1": _pv1,
    "PV2": _pv2,
    "IN1": _in1,
    "MRG": _mrg,
    "FT1": _ft1,
    "ORC": _orc,
    "RXE": _rxe,
    "TQ1": _tq1,
    "RXR": _rxr,
    "RXD": _rxd,
    "OBR": _obr,
    "OBX": _obx,
    "NTE": _nte,
    "QPD": _qpd,
    "RCP": _rcp,
}


def map_message(message: Message, profile: SenderProfile = DEFAULT_PROFILE) -> V2Result:
    """Every resource, merge and query the message carries, and every part that was not mapped."""
    ctx = Context(profile, message.control_id)
    state = _State(ctx, message.trigger_event)
    seen: dict[str, int] = {}
    cleared: list[str] = []
    for seg in message.segments:
        seen[seg.name] = count = seen.get(seg.name, 0) + 1
        where = seg.name if count == 1 else f"{seg.name}[{count}]"
        if _NULL in seg.fields:
            seg = _without_nulls(seg, where, cleared)
        handler = HANDLERS.get(seg.name)
        if handler is not None:
            handler(state, seg, where)
        elif seg.name in profile.z_segments and state.last is not None:
            extension = {"url": profile.z_segments[seg.name], "valueString": seg.encode()}
            state.last.setdefault("extension", []).append(extension)
        elif seg.name.startswith("Z"):
            ctx.skip(where, "Z-segment not mapped (kept on the stored message)")
        else:
            ctx.skip(where, "segment not mapped")
    query: PixQuery | PdqQuery | None = None
    if state.qpd is not None:
        qpd, where = state.qpd
        if message.trigger_event == "Q23":
            query = pix_query(qpd, where, ctx)
        elif message.trigger_event == "Q22":
            query = pdq_query(qpd, where, state.limit, ctx)
        else:
            ctx.skip(where, f"query {message.message_type}^{message.trigger_event} not mapped")
    return V2Result(
        message_type=message.message_type,
        trigger_event=message.trigger_event,
        control_id=message.control_id,
        entries=tuple(ctx.entries),
        unmapped=tuple(ctx.unmapped),
        merges=tuple(state.merges),
        query=query,
        issues=tuple(ctx.issues),
        cleared=tuple(cleared),
    )


_NULL = '""'


def _without_nulls(seg: Segment, where: str, cleared: list[str]) -> Segment:
    """The segment with its ``""`` fields emptied (they are deletions, not data); each one recorded."""
    fields = list(seg.fields)
    for number, raw in enumerate(fields):
        if number and raw == _NULL:
            fields[number] = ""
            cleared.append(f"{where}-{number}")
    return Segment(seg.name, tuple(fields), seg.delimiters)
