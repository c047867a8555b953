"""What the patient index hands back: immutable values, with personal data kept out of repr."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapter.mpi.scoring import MatchGrade
from mappings.codes import IdentifierKey
from mappings.person import FactConflict


@dataclass(frozen=True, slots=True)
class ReviewFlag:
    """Source data that was not merged: it waits for a person in the review Task ``review``.

    kind: ``demographic-conflict`` (same identifier, different name / birth date / sex / ethnicity)
    or ``identifier-conflict`` (an identifier of this person is linked to another Patient, or a
    single-valued identifier differs from the one on the Patient).
    """

    kind: str
    fields: tuple[str, ...]
    review: str  # "Task/<id>"
    source: str
    conflicts: tuple[FactConflict, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The one Patient for the facts. ``linked`` holds the keys of identifiers linked by this call
    (None for a certificate outside the identifier table). ``settled``: nothing was decided anew:
    every identifier of the facts was already linked (unflagged) to this Patient and the Patient
    took nothing from them, so the same facts resolve the same way while its version stays."""

    patient: dict[str, Any] = field(repr=False)
    patient_id: str
    created: bool
    linked: tuple[IdentifierKey | None, ...] = ()
    flags: tuple[ReviewFlag, ...] = ()
    version_id: int = 1
    settled: bool = False

    @property
    def reference(self) -> str:
        return f"Patient/{self.patient_id}"


@dataclass(frozen=True, slots=True)
class MatchCandidate:
    """A demographic match: the Patient, its score (0..1) and grade, and per-field agreement."""

    patient_id: str
    patient: dict[str, Any] = field(repr=False)
    score: float
    grade: MatchGrade
    parts: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class MergeResult:
    """A merge (or its undo): the Provenance that records it is the handle for unmerge."""

    provenance: str  # "Provenance/<id>"
    source_id: str
    target_id: str
    moved_links: int
