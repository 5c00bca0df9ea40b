"""The worker's housekeeping loops: leases and heartbeat, orphans, positions, dead inboxes.

Every ``heartbeat_interval_s``: renew our leases (a lost one stops its session at once,
without leaving voice), write the heartbeat, take over orphaned guilds while there is room,
give back leases of guilds that play nothing, and route what dead workers left in their
inboxes. Every ``position_interval_s``: save the position of every playing track.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from shared.queue import Inboxes, QueueUnavailable
from shared.state import LeaseLost, StoreUnavailable, WorkerRegistry
from voice_worker.models import SessionState
from voice_worker.ownership import Ownership
from voice_worker.routing import Router, Routing
from voice_worker.session_store import SessionStore
from voice_worker.sessions import SessionManager
from voice_worker.takeover import Takeovers

log = structlog.get_logger(__name__)


class InboxCollector:
    """Routes the messages of inboxes whose worker is gone, then deletes them when empty."""

    def __init__(
        self, inboxes: Inboxes, registry: WorkerRegistry, routing: Routing, own_url: str
    ) -> None:
        self._inboxes = inboxes
        self._registry = registry
        self._routing = routing
        self._own_url = own_url
        self._suspects: set[str] = set()

    async def collect(self) -> None:
        """One pass; an inbox must look dead on two passes in a row (a late heartbeat)."""
        alive = {beat.inbox_url for beat in await self._registry.alive_workers()}
        dead = set(await self._inboxes.list_inboxes()) - alive - {self._own_url}
        confirmed, self._suspects = dead & self._suspects, dead
        log.debug(
            "inbox.sweep", alive=sorted(alive), dead=sorted(dead), confirmed=sorted(confirmed)
        )
        for url in sorted(confirmed):
            routed = await Router(self._inboxes.at(url), self._routing, inbox=True).drain()
            if routed:
                log.info("inbox.drained", inbox=url.rsplit("/", 1)[-1], routed=routed)
            if await self._inboxes.inbox_empty(url):
                await self._inboxes.delete_inbox(url)
                self._suspects.discard(url)
                log.info("inbox.deleted", inbox=url.rsplit("/", 1)[-1])


class Keeper:
    """Runs the periodic duties until stopped."""

    def __init__(
        self,
        ownership: Ownership,
        sessions: SessionManager,
        store: SessionStore,
        takeovers: Takeovers,
        *,
        heartbeat_interval_s: float,
        position_interval_s: float,
        collector: InboxCollector | None = None,
    ) -> None:
        self._ownership = ownership
        self._sessions = sessions
        self._store = store
        self._takeovers = takeovers
        self._heartbeat_interval_s = heartbeat_interval_s
        self._position_interval_s = position_interval_s
        self._collector = collector
        self._unused: set[str] = set()
        self._taking = True
        self._stopping = asyncio.Event()

    def stop_taking(self) -> None:
        """Shutting down: keep renewing what we hold, but take no orphan and sweep no inbox."""
        self._taking = False

    def stop(self) -> None:
        """End the loops."""
        self._stopping.set()

    async def run(self) -> None:
        """Both loops, until stopped."""
        await asyncio.gather(
            self._every(self._heartbeat_interval_s, self.tick),
            self._every(self._position_interval_s, self.save_positions),
        )

    async def _every(self, period_s: float, duty: Callable[[], Awaitable[None]]) -> None:
        while not self._stopping.is_set():
            try:
                await duty()
            except (StoreUnavailable, QueueUnavailable) as exc:
                log.warning("keeper.unavailable", duty=duty.__name__, error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=period_s)

    async def tick(self) -> None:
        """Renew, heartbeat, take orphans over, free unused leases, collect dead inboxes."""
        for guild_id in await self._ownership.renew():
            await self.lost(guild_id)
        await self._ownership.heartbeat(self._sessions.active)
        if not self._taking:
            return
        for orphan in await self._ownership.orphans():
            if await self._ownership.claim(orphan.guild_id) is not None:
                log.info("takeover.claimed", guild_id=orphan.guild_id, previous=orphan.owner)
                await self._takeovers.start(orphan.guild_id)
        await self._release_unused()
        if self._collector is not None:
            await self._collector.collect()

    async def lost(self, guild_id: str) -> None:
        """Another worker has the guild now: stop there without leaving voice."""
        self._ownership.forget(guild_id)
        session = self._sessions.get(guild_id)
        if session is not None:
            await session.abandon()

    async def _release_unused(self) -> None:
        # A lease with no session and no takeover on two ticks in a row plays nothing here.
        unused = {
            guild_id
            for guild_id in self._ownership.owned
            if self._sessions.get(guild_id) is None and not self._takeovers.running(guild_id)
        }
        for guild_id in unused & self._unused:
            await self._ownership.release(guild_id)
        self._unused = unused - self._unused

    async def save_positions(self) -> None:
        """Save where every playing track is (cheap writes, fenced by our lease)."""
        for guild_id in list(self._ownership.owned):
            session = self._sessions.get(guild_id)
            if session is None or session.state is not SessionState.PLAYING:
                continue
            try:
                await self._store.save_position(session.snapshot())
            except LeaseLost:
                log.warning("lease.lost", guild_id=guild_id, by="position_write")
                await self.lost(guild_id)
