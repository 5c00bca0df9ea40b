"""The durable state: one small interface, a DynamoDB backend and an SQLite backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.state.base import (
    JOB_DONE_TTL_S,
    GuildStates,
    JobClaim,
    JobLedger,
    Leases,
    Playlists,
    StateStore,
    WorkerRegistry,
)
from shared.state.dynamodb import DynamoDbStateStore
from shared.state.dynamodb_items import table_definition, ttl_specification
from shared.state.exceptions import (
    LeaseLost,
    QueueFull,
    StaleState,
    StateTooLarge,
    StoreUnavailable,
)
from shared.state.models import (
    GuildSettings,
    GuildState,
    Lease,
    LoopMode,
    MessageRef,
    NowPlaying,
    PlaybackPosition,
    Playlist,
    QueuedTrack,
    WorkerHeartbeat,
)
from shared.state.sqlite import SqliteStateStore

if TYPE_CHECKING:
    from shared.settings import Settings

__all__ = [
    "JOB_DONE_TTL_S",
    "DynamoDbStateStore",
    "GuildSettings",
    "GuildState",
    "GuildStates",
    "JobClaim",
    "JobLedger",
    "Lease",
    "LeaseLost",
    "Leases",
    "LoopMode",
    "MessageRef",
    "NowPlaying",
    "PlaybackPosition",
    "Playlist",
    "Playlists",
    "QueueFull",
    "QueuedTrack",
    "SqliteStateStore",
    "StaleState",
    "StateStore",
    "StateTooLarge",
    "StoreUnavailable",
    "WorkerHeartbeat",
    "WorkerRegistry",
    "open_state_store",
    "table_definition",
    "ttl_specification",
]


def open_state_store(settings: Settings) -> StateStore:
    """The store this process's settings ask for: DynamoDB if state_table is set, else SQLite."""
    if settings.state_table:
        return DynamoDbStateStore(
            settings.state_table,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url or None,
            max_queue_length=settings.max_queue_length,
            history_length=settings.history_length,
        )
    return SqliteStateStore(
        settings.sqlite_path,
        max_queue_length=settings.max_queue_length,
        history_length=settings.history_length,
    )
