"""The master patient index: one Patient per person, every identifier linked, conflicts to review,
demographic matching (pinyin-aware), merge and unmerge with history."""

from adapter.mpi.events import (
    IDENTIFIER_LINKED,
    PATIENT_CREATED,
    PATIENT_MERGED,
    PATIENT_UNMERGED,
    PATIENT_UPDATED,
)
from adapter.mpi.review import DEMOGRAPHIC_CONFLICT, IDENTIFIER_CONFLICT, REVIEW_SYSTEM
from adapter.mpi.scoring import MatchGrade, Probe, score
from adapter.mpi.service import PatientIndex
from adapter.mpi.tokens import BLOCK_PARAM, name_search_value, patient_index_tokens
from adapter.mpi.values import MatchCandidate, MergeResult, Resolution, ReviewFlag

__all__ = [
    "BLOCK_PARAM",
    "DEMOGRAPHIC_CONFLICT",
    "IDENTIFIER_CONFLICT",
    "IDENTIFIER_LINKED",
    "PATIENT_CREATED",
    "PATIENT_MERGED",
    "PATIENT_UNMERGED",
    "PATIENT_UPDATED",
    "REVIEW_SYSTEM",
    "MatchCandidate",
    "MatchGrade",
    "MergeResult",
    "PatientIndex",
    "Probe",
    "Resolution",
    "ReviewFlag",
    "name_search_value",
    "patient_index_tokens",
    "score",
]
