"""Reading and writing Patients the way the index needs: always with its index tokens, with
optimistic locking, and following merges (replaced-by) to the surviving record."""

from __future__ import annotations

from typing import Any, Final

from adapter.errors import ResourceNotFound
from adapter.mpi.tokens import patient_index_tokens
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import StoredResource

MAX_HOPS: Final = 8  # a merge chain longer than this is a loop or damage: stop rather than spin


def replaced_by(body: dict[str, Any]) -> str | None:
    """The id of the Patient this one was merged into, if it is inactive and says so."""
    if body.get("active", True):
        return None
    for link in body.get("link", []):
        if link.get("type") == "replaced-by":
            reference = str(link.get("other", {}).get("reference", ""))
            if reference.startswith("Patient/"):
                return reference.removeprefix("Patient/")
    return None


async def read_surviving(uow: UnitOfWork, patient_id: str) -> StoredResource:
    """The Patient, or the one it was merged into (following a chain of merges)."""
    stored = await uow.resources.read("Patient", patient_id)
    for _ in range(MAX_HOPS):
        target = replaced_by(stored.body)
        if target is None:
            return stored
        stored = await uow.resources.read("Patient", target)
    raise ResourceNotFound("the merge chain of this patient is too long or circular")


async def create_patient(uow: UnitOfWork, body: dict[str, Any]) -> StoredResource:
    stored, _ = await uow.resources.create(body, tokens=patient_index_tokens(body))
    return stored


async def save_patient(uow: UnitOfWork, body: dict[str, Any], *, if_match: int) -> StoredResource:
    """The next version; VersionConflict when another unit of work wrote it meanwhile."""
    stored, _ = await uow.resources.update(body, tokens=patient_index_tokens(body), if_match=if_match)
    return stored
