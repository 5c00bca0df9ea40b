"""The StateStore interface shared by the DynamoDB and SQLite backends.

It is the union of five small protocols, so a component can ask for only what it uses (the
interactions Lambda, say, has no use for leases). docs/state.md explains the semantics; the
contract tests in tests/integration/test_state_store.py pin them down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from shared.state.exceptions import LeaseLost, QueueFull
from shared.state.models import GuildState, Lease, PlaybackPosition, Playlist, WorkerHeartbeat

# Epoch seconds, like time.time; injectable so tests can move time.
Clock = Callable[[], float]

# A finished job is remembered this long: SQS's default retention, so no redelivery of the
# same message can come after its record is gone.
JOB_DONE_TTL_S = 4 * 24 * 3600


def to_datetime(epoch_s: float) -> datetime:
    """An aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(epoch_s, UTC)


def prepare_save(
    state: GuildState,
    *,
    expected_version: int,
    now: float,
    max_queue_length: int,
    history_length: int,
) -> GuildState:
    """The state as a backend stores it: queue bound checked, history trimmed, next version."""
    limit = state.queue_limit(max_queue_length)
    if len(state.queue) > limit:
        raise QueueFull(limit)
    history = state.history[-history_length:] if history_length > 0 else ()
    return state.model_copy(
        update={"history": history, "version": expected_version + 1, "updated_at": to_datetime(now)}
    )


def prepare_position(
    lease: Lease, *, entry_id: str, position_s: float, paused: bool, now: float
) -> PlaybackPosition:
    """The position record as a lease holder writes it; LeaseLost once the lease has expired."""
    if not lease.valid_at(to_datetime(now)):
        raise LeaseLost(lease.guild_id)
    return PlaybackPosition(
        guild_id=lease.guild_id,
        entry_id=entry_id,
        position_s=position_s,
        paused=paused,
        updated_at=to_datetime(now),
        lease_token=lease.token,
    )


def check_playlist_length(playlist: Playlist, max_tracks: int) -> None:
    """Playlists obey the deployment's queue bound: they are loaded into the queue."""
    if len(playlist.tracks) > max_tracks:
        raise QueueFull(max_tracks)


class JobClaim(StrEnum):
    """The answer of claim_job."""

    CLAIMED = "claimed"  # handle it now, then finish_job (or release_job to let a retry in)
    IN_PROGRESS = "in_progress"  # another handler holds a live claim: retry later, don't ack
    DONE = "done"  # handled already: ack it without doing anything again


class GuildStates(Protocol):
    """Per-guild playback state with optimistic concurrency."""

    async def get_guild(self, guild_id: str) -> GuildState | None:
        """The latest state (with the latest position of the track on air), or None."""

    async def save_guild(
        self, state: GuildState, *, expected_version: int | None = None
    ) -> GuildState:
        """Write the state if the stored version is still expected_version (default
        state.version; 0 means "not stored yet"), returning it with the next version.

        Raises StaleState on a conflict, QueueFull past the queue bound.
        """

    async def update_position(
        self, lease: Lease, *, entry_id: str, position_s: float, paused: bool = False
    ) -> None:
        """Record the playback position cheaply (no version bump, no conflict with queue edits).

        Raises LeaseLost when the lease has expired or a newer lease holder has written.
        """


class Leases(Protocol):
    """Exclusive, expiring ownership of a guild's voice session."""

    async def acquire_lease(self, guild_id: str, worker_id: str, *, ttl_s: float) -> Lease | None:
        """Take the guild if nobody holds it, its lease expired, or it is ours; else None.

        Every successful acquire returns a new fencing token.
        """

    async def renew_leases(
        self, worker_id: str, guild_ids: Iterable[str], *, ttl_s: float
    ) -> set[str]:
        """Extend our unexpired leases; the guilds missing from the result are lost to us."""

    async def release_lease(self, guild_id: str, worker_id: str, *, handover: bool = False) -> bool:
        """Give the guild up if it is ours (True). handover=True leaves it for the orphan scan."""

    async def get_lease(self, guild_id: str) -> Lease | None:
        """The guild's unexpired lease, or None."""

    async def orphaned_leases(self, *, limit: int = 100) -> list[Lease]:
        """Leases that expired without being released: their guilds need a new owner."""


class WorkerRegistry(Protocol):
    """Which workers are alive, and how loaded."""

    async def put_heartbeat(self, heartbeat: WorkerHeartbeat) -> None:
        """Record the heartbeat; it vouches for the worker until heartbeat.expires_at."""

    async def alive_workers(self) -> list[WorkerHeartbeat]:
        """Heartbeats not yet expired, by worker id."""

    async def delete_heartbeat(self, worker_id: str) -> None:
        """Forget a worker that is shutting down cleanly."""


class JobLedger(Protocol):
    """At-least-once delivery, handled once: who handles a job, and whether it is done."""

    async def claim_job(self, job_id: str, *, owner: str, ttl_s: float) -> JobClaim:
        """Claim a job for ttl_s; an expired claim (its handler died) can be claimed again."""

    async def finish_job(
        self, job_id: str, *, result: str = "", ttl_s: float = JOB_DONE_TTL_S
    ) -> None:
        """Record the job as done, so a redelivery is acked without being handled again."""

    async def release_job(self, job_id: str, *, owner: str) -> None:
        """Drop our in-progress claim (the handling failed and will be retried)."""


class Playlists(Protocol):
    """Saved playlists of a guild, looked up by case-insensitive name."""

    async def save_playlist(
        self, playlist: Playlist, *, replace: bool = True, only_creator: bool = False
    ) -> bool:
        """Store the playlist; False (and the stored one kept) when it may not replace it.

        replace=False: only if the name is free. only_creator=True: only if the name is free
        or the stored one has the same ``created_by`` (one conditional write, so two saves
        racing can't both think the name was free).
        """

    async def get_playlist(self, guild_id: str, name: str) -> Playlist | None:
        """The playlist of that name, or None."""

    async def list_playlists(self, guild_id: str) -> list[str]:
        """The guild's playlist names, sorted case-insensitively."""

    async def delete_playlist(self, guild_id: str, name: str) -> bool:
        """Delete the playlist; False if there was none."""


class StateStore(GuildStates, Leases, WorkerRegistry, JobLedger, Playlists, Protocol):
    """Everything durable about the bot; one instance per process, from open_state_store."""

    async def aclose(self) -> None:
        """Release connections and threads."""
