"""The SIMULATOR's own control endpoints: issue codes, list and create people, suspend cards,
inject faults, and a page that says what this is."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from sandbox.codes import CodeKind
from sandbox.faults import Fault, FaultMode, Platform
from sandbox.people import Person
from sandbox.state import sandbox_state

router = APIRouter(prefix="/sandbox", tags=["simulator control"])
MAX_NEW_PEOPLE = 100_000


class CodeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: CodeKind
    id_number: str
    ttl_s: float | None = Field(default=None, gt=0, description="override the configured code lifetime")


class PeopleRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    count: int = Field(ge=1, le=MAX_NEW_PEOPLE)


class FaultRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    platform: Platform | Literal["*"]
    mode: FaultMode
    delay_s: float = Field(default=0.0, ge=0, le=120)


class SuspendRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id_number: str
    suspended: bool = True


@router.post("/codes")
async def issue_code(body: CodeRequest, request: Request) -> dict[str, Any]:
    """Issue a code of one kind for one person, as their app or card would show it."""
    state = sandbox_state(request)
    person = _person(request, body.id_number)
    issued = state.codes.issue(body.kind, person, ttl_s=body.ttl_s)
    expires = issued.expires_at.isoformat() if issued.expires_at else None
    return {"code": issued.code, "kind": issued.kind, "expires_at": expires}


@router.get("/people")
async def list_people(request: Request, limit: int = Query(default=20, ge=1, le=10_000)) -> dict[str, Any]:
    """Synthetic people to pick from (simulator data, not real persons)."""
    state = sandbox_state(request)
    people = state.population.people(limit)
    return {"total": len(state.population), "people": [_summary(request, p) for p in people]}


@router.post("/people")
async def create_people(body: PeopleRequest, request: Request) -> dict[str, Any]:
    state = sandbox_state(request)
    made = state.population.grow(body.count)
    return {"total": len(state.population), "people": [_summary(request, p) for p in made]}


@router.post("/cards/suspend")
async def suspend_card(body: SuspendRequest, request: Request) -> dict[str, Any]:
    """Suspend (or restore) a person's cards on every simulated platform."""
    person = _person(request, body.id_number)
    sandbox_state(request).population.set_suspended(person, body.suspended)
    return {"suspended": body.suspended}


@router.post("/faults")
async def set_fault(body: FaultRequest, request: Request) -> dict[str, Any]:
    """Make a simulated platform slow (`delay_s` before answering), failing (503) or normal again."""
    faults = sandbox_state(request).faults
    faults.set(body.platform, Fault(mode=body.mode, delay_s=body.delay_s))
    return faults.snapshot()


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    return sandbox_state(request).faults.snapshot()


def _person(request: Request, id_number: str) -> Person:
    person = sandbox_state(request).population.by_id_number(id_number)
    if person is None:
        raise HTTPException(404, "no such person in the simulator's population")
    return person


def _summary(request: Request, person: Person) -> dict[str, Any]:
    return {
        "id_number": person.id_number,
        "name": person.name,
        "sex": person.sex,
        "birth_date": person.birth_date.isoformat(),
        "ssc_card_number": person.ssc_card_number,
        "ssc_identification_code": person.ssc_identification_code,
        "essc_sign_level": person.essc_sign_level,
        "ehc_id": person.ehc_id,
        "nhsa_psn_no": person.nhsa_psn_no,
        "insutype": person.insutype,
        "suspended": sandbox_state(request).population.is_suspended(person),
    }


INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dualcode sandbox: SIMULATOR</title></head>
<body>
<h1>dualcode sandbox &mdash; a SIMULATOR</h1>
<p><strong>This is not a real card or insurance platform.</strong> It simulates the electronic social
security card platform, an electronic health card management platform and the NHSA platform, over
one population of synthetic people, for demos and tests.</p>
<ul>
<li><code>GET /sandbox/people?limit=N</code>, <code>POST /sandbox/people {"count": N}</code></li>
<li><code>POST /sandbox/codes {"kind": "essc|ehc|ehc-static|nhsa|ssc-reader", "id_number": "..."}</code></li>
<li><code>POST /sandbox/cards/suspend {"id_number": "...", "suspended": true}</code></li>
<li><code>POST /sandbox/faults {"platform": "essc|ehc|nhsa|*", "mode": "slow|fail|ok",
"delay_s": 2}</code></li>
<li>Simulated platforms: <code>POST /essc/api/v1/decode</code>, <code>POST /ehc/api/v1/qrcode/verify</code>,
<code>/ehc/api/v1/card/query</code>, <code>/ehc/api/v1/card/register</code>,
<code>POST /nhsa/fsi/api/rsfComIfsService/callService</code> (infno 1101, 6101)</li>
<li>API description: <a href="/docs">/docs</a>; guide: docs/sandbox.md</li>
</ul>
</body></html>
"""

page_router = APIRouter(tags=["simulator control"])


@page_router.get("/", response_class=HTMLResponse)
async def index() -> str:
    return INDEX_PAGE
