"""A person's Coverage, kept fresh from NHSA 1101 on an interval, not on every scan.

The refresh marker lives in the cache (a set-if-absent key with the interval as TTL), so a person
without any insurance is not asked about on every scan either; a lost cache costs one extra 1101.
"""

from __future__ import annotations

import logging
from typing import Any

from adapter.cache.ports import Cache
from adapter.cards.holder import CardHolder
from adapter.cards.nhsa import NhsaClient
from adapter.errors import DualcodeError
from adapter.mpi.coverages import coverage_tokens, coverages_for, ensure_payors, insured_regions
from adapter.scan.holder_facts import insuinfo_of
from adapter.storage.ports import UnitOfWork
from adapter.storage.records import SearchToken
from mappings.codes import IdentifierKey, IdentifierSystems

log = logging.getLogger("dualcode.scan.coverage")
NHSA_ID_NUMBER = "02"  # mdtrt_cert_type: the ID number as the visit credential


class CoverageKeeper:
    def __init__(self, nhsa: NhsaClient, cache: Cache, systems: IdentifierSystems, *, refresh_s: int) -> None:
        self._nhsa = nhsa
        self._cache = cache
        self._systems = systems
        self._refresh_s = refresh_s

    async def due(self, patient_id: str) -> bool:
        if self._refresh_s == 0:
            return True
        return await self._cache.set_if_absent(
            f"coverage-refreshed:{patient_id}", b"1", ttl_s=self._refresh_s
        )

    async def ask_nhsa(self, patient_id: str, id_number: str) -> CardHolder | None:
        """1101 by ID number; None when NHSA does not answer (the scan goes on with what we have)."""
        try:
            return await self._nhsa.person_info(NHSA_ID_NUMBER, id_number)
        except DualcodeError as error:
            await self._cache.delete(f"coverage-refreshed:{patient_id}")  # try again next scan
            log.warning("coverage refresh failed", extra={"error": error.code})
            return None

    async def store(self, uow: UnitOfWork, patient_id: str, holder: CardHolder) -> None:
        """One Coverage per insurance entry the platform reported, written the way bulk import
        writes them (stable ids, payor Organizations created), so both paths keep one Coverage."""
        psn_no = holder.identifier(IdentifierKey.NHSA_PSN_NO)
        if psn_no is None:
            return
        insurance = [insuinfo_of(entry) for entry in holder.insurance]
        bodies = coverages_for(patient_id, insurance, psn_no=psn_no, systems=self._systems)
        await ensure_payors(uow, insured_regions(bodies), set())
        for body in bodies:
            await uow.resources.update(body, tokens=coverage_tokens(body))  # update-as-create by id

    @staticmethod
    async def current(uow: UnitOfWork, patient_id: str) -> list[dict[str, Any]]:
        found = await uow.resources.search("Coverage", _of_patient(patient_id))
        return [stored.body for stored in found]

    @staticmethod
    async def versions(uow: UnitOfWork, patient_id: str) -> tuple[tuple[str, int], ...]:
        """(id, version id) of what ``current`` returns, in its order, without reading a body."""
        return tuple(await uow.resources.search_versions("Coverage", _of_patient(patient_id)))


def _of_patient(patient_id: str) -> list[SearchToken]:
    return [SearchToken("patient", None, f"Patient/{patient_id}")]
