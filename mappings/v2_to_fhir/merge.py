"""MRG (ADT^A40, after its PID) -> a merge instruction: prior identifiers into the surviving patient.

The merge itself (patient index, history, `link.type=replaced-by`) is the caller's: this only says
who merges into whom, in the identifiers of our one system table.
"""

from __future__ import annotations

from mappings.hl7v2 import Segment
from mappings.v2_to_fhir.context import Context
from mappings.v2_to_fhir.datatypes import Json
from mappings.v2_to_fhir.demographics import human_name
from mappings.v2_to_fhir.identifiers import identifier
from mappings.v2_to_fhir.result import MergeInstruction

MRG_MAPPED = frozenset({1, 3, 4, 5, 7})


def merge_from_mrg(mrg: Segment, where: str, surviving: list[Json], ctx: Context) -> MergeInstruction:
    prior: list[Json] = []
    for number in (1, 4):  # MRG-4 (prior patient ID) is the retired single form of MRG-1
        for index, rep in enumerate(mrg.field(number), 1):
            ident, problem = identifier(rep, ctx.profile)
            if problem:
                ctx.issue(f"{where}-{number}[{index}]", problem)
            if ident and all(
                (i.get("system"), i["value"]) != (ident.get("system"), ident["value"]) for i in prior
            ):
                prior.append(ident)
    if not prior:
        ctx.issue(f"{where}-1", "no prior identifier: nothing to merge")
    ctx.account(mrg, where, MRG_MAPPED)
    return MergeInstruction(
        surviving=tuple(surviving),
        prior=tuple(prior),
        prior_visit=mrg.value(5),
        prior_account=mrg.value(3),
        prior_name=human_name(mrg.field(7).repetition()),
    )
