"""Which guilds this worker owns: leases taken by conditional write, renewed, given back.

A guild is played by at most one worker: the holder of its lease (docs/state.md). Only the
holder joins voice there (opcode 4). A lease that can't be renewed in time is treated as
lost even when the store merely couldn't be reached: two players in one guild fight, so
stopping is the safe side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

import structlog

from shared.state import Lease, Leases, StoreUnavailable, WorkerHeartbeat, WorkerRegistry
from shared.state.base import to_datetime

log = structlog.get_logger(__name__)


class LeaseStore(Leases, WorkerRegistry, Protocol):
    """The part of the StateStore that ownership needs."""


class Ownership:
    """This worker's leases and heartbeat; the capacity check for claiming new guilds."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        worker_id: str,
        ttl_s: float,
        capacity: int,
        inbox_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.worker_id = worker_id
        self.inbox_url = inbox_url
        self._store = store
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._leases: dict[str, Lease] = {}
        self._started_at = to_datetime(clock())

    @property
    def owned(self) -> frozenset[str]:
        """The guilds this worker holds a lease on."""
        return frozenset(self._leases)

    @property
    def full(self) -> bool:
        """Whether a new guild would exceed worker_max_guilds."""
        return len(self._leases) >= self._capacity

    def lease_of(self, guild_id: str) -> Lease | None:
        """Our lease of the guild if it has not run out, else None."""
        lease = self._leases.get(guild_id)
        if lease is None or not lease.valid_at(to_datetime(self._clock())):
            return None
        return lease

    def holds(self, guild_id: str) -> bool:
        """Whether this worker may play in the guild now."""
        return self.lease_of(guild_id) is not None

    async def claim(self, guild_id: str) -> Lease | None:
        """Our lease of the guild: kept, or newly taken if free and we have room; else None."""
        held = self.lease_of(guild_id)
        if held is not None:
            return held
        if self.full and guild_id not in self._leases:
            return None
        lease = await self._store.acquire_lease(guild_id, self.worker_id, ttl_s=self._ttl_s)
        if lease is not None:
            self._leases[guild_id] = lease
            log.info("lease.acquired", guild_id=guild_id, token=lease.token)
        return lease

    async def current_owner(self, guild_id: str) -> Lease | None:
        """The guild's live lease, whoever holds it."""
        return await self._store.get_lease(guild_id)

    async def release(self, guild_id: str, *, handover: bool = False) -> None:
        """Give the guild up (handover: leave it for another worker's orphan scan now)."""
        if self._leases.pop(guild_id, None) is None:
            return
        try:
            await self._store.release_lease(guild_id, self.worker_id, handover=handover)
        except StoreUnavailable:
            log.warning("lease.release_failed", guild_id=guild_id)  # it expires on its own
        log.info("lease.released", guild_id=guild_id, handover=handover)

    def forget(self, guild_id: str) -> None:
        """Drop a lease we learned is lost (no write: it is someone else's now)."""
        self._leases.pop(guild_id, None)

    async def renew(self) -> set[str]:
        """Extend every lease; return (and forget) the guilds lost since the last renewal."""
        if not self._leases:
            return set()
        wanted = set(self._leases)
        now = self._clock()
        try:
            kept = await self._store.renew_leases(self.worker_id, wanted, ttl_s=self._ttl_s)
        except StoreUnavailable:
            log.warning("lease.renew_failed", guilds=len(wanted))
            lost = {g for g, lease in self._leases.items() if not lease.valid_at(to_datetime(now))}
        else:
            until = to_datetime(now + self._ttl_s)
            for guild_id in kept:
                self._leases[guild_id] = self._leases[guild_id].model_copy(
                    update={"expires_at": until}
                )
            lost = wanted - kept
        for guild_id in lost:
            self._leases.pop(guild_id, None)
            log.warning("lease.lost", guild_id=guild_id)
        return lost

    async def heartbeat(self, active_sessions: int) -> None:
        """Tell the fleet we are alive, how loaded, and where our inbox is."""
        now = self._clock()
        beat = WorkerHeartbeat(
            worker_id=self.worker_id,
            capacity=self._capacity,
            active_sessions=active_sessions,
            guild_ids=tuple(sorted(self._leases)),
            started_at=self._started_at,
            expires_at=to_datetime(now) + timedelta(seconds=self._ttl_s),
            inbox_url=self.inbox_url,
        )
        await self._store.put_heartbeat(beat)

    async def orphans(self) -> list[Lease]:
        """Expired, unreleased leases of other workers (none when we are full)."""
        if self.full:
            return []
        return [
            lease
            for lease in await self._store.orphaned_leases(limit=20)
            if lease.guild_id not in self._leases
        ]

    async def stop(self, *, handover: bool) -> None:
        """Release every lease and forget our heartbeat (clean shutdown)."""
        for guild_id in list(self._leases):
            await self.release(guild_id, handover=handover)
        try:
            await self._store.delete_heartbeat(self.worker_id)
        except StoreUnavailable:
            log.warning("heartbeat.delete_failed")
