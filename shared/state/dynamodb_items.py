"""The DynamoDB single-table layout: the table definition, keys, and pure item <-> model mapping.

Kept apart from the SDK calls so the layout is unit-tested without DynamoDB, and so the tests
and the deployment template create the table from the same definition. docs/state.md draws it.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.state.base import to_datetime
from shared.state.exceptions import StateTooLarge
from shared.state.models import GuildState, Lease, PlaybackPosition, Playlist, WorkerHeartbeat

Item = dict[str, dict[str, Any]]
M = TypeVar("M", bound=BaseModel)

TTL_ATTRIBUTE = "expires_at"
LEASE_INDEX = "leases-by-expiry"
# Every lease item carries this constant under LEASE_INDEX_PK: the sparse index then holds only
# leases, sorted by expiry, so "which leases expired" is one Query, never a Scan.
LEASE_INDEX_PK = "lease_index"
LEASE_INDEX_VALUE = "LEASES"
WORKERS_PK = "WORKERS"
STATE_SK = "STATE"
POSITION_SK = "POSITION"
LEASE_SK = "LEASE"
JOB_SK = "JOB"
PLAYLIST_PREFIX = "PLAYLIST#"
# DynamoDB's item limit is 400 KB; keep room for keys and the other attributes.
MAX_BLOB_BYTES = 380_000


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable parameters (on-demand, one sparse GSI); the deployment template uses them too."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
            {"AttributeName": LEASE_INDEX_PK, "AttributeType": "S"},
            {"AttributeName": "lease_until", "AttributeType": "N"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": LEASE_INDEX,
                "KeySchema": [
                    {"AttributeName": LEASE_INDEX_PK, "KeyType": "HASH"},
                    {"AttributeName": "lease_until", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def ttl_specification() -> dict[str, Any]:
    """UpdateTimeToLive's TimeToLiveSpecification (CloudFormation's has the same shape)."""
    return {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


# Attribute values of the low-level API: {"S": ...}, {"N": "..."}, {"B": ...}, {"BOOL": ...}.
def s(value: str) -> dict[str, Any]:
    """A string attribute value."""
    return {"S": value}


def n(value: float) -> dict[str, Any]:
    """A number attribute value."""
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def ttl_value(epoch_s: float) -> dict[str, Any]:
    """A TTL attribute value: whole epoch seconds, rounded up so nothing expires early."""
    return n(math.ceil(epoch_s))


def num(item: Item, name: str) -> float:
    """Read a number attribute."""
    return float(item[name]["N"])


def guild_pk(guild_id: str) -> str:
    """The partition of a guild's items (state, position, lease, playlists)."""
    return f"GUILD#{guild_id}"


def guild_key(guild_id: str, sk: str) -> Item:
    """The key of one of a guild's items."""
    return {"PK": s(guild_pk(guild_id)), "SK": s(sk)}


def worker_key(worker_id: str) -> Item:
    """The key of a worker's heartbeat: one fixed partition, so listing workers is a Query."""
    return {"PK": s(WORKERS_PK), "SK": s(f"WORKER#{worker_id}")}


def job_key(job_id: str) -> Item:
    """The key of a job's claim/done record."""
    return {"PK": s(f"JOB#{job_id}"), "SK": s(JOB_SK)}


def playlist_sk(key: str) -> str:
    """The sort key of a playlist, by its normalised name."""
    return f"{PLAYLIST_PREFIX}{key}"


def pack(model: BaseModel) -> bytes:
    """Compressed JSON of a model: a 500-track queue stays far below the item limit."""
    # Level 1: ~1 ms for a 500-track queue (200 KB of JSON -> ~23 KB); higher levels cost
    # several times more CPU on the event loop for a few KB less.
    blob = zlib.compress(model.model_dump_json().encode(), 1)
    if len(blob) > MAX_BLOB_BYTES:
        raise StateTooLarge(f"{type(model).__name__} is {len(blob)} bytes compressed")
    return blob


def unpack(blob: bytes, model: type[M]) -> M:
    """The inverse of pack."""
    return model.model_validate_json(zlib.decompress(blob))


def state_to_item(state: GuildState) -> Item:
    """The STATE item; `version` is duplicated outside the blob for the condition expression."""
    return {
        **guild_key(state.guild_id, STATE_SK),
        "version": n(state.version),
        "data": {"B": pack(state)},
    }


def item_to_state(item: Item) -> GuildState:
    """The inverse of state_to_item."""
    return unpack(item["data"]["B"], GuildState)


def position_to_item(position: PlaybackPosition) -> Item:
    """The POSITION item, small enough to rewrite every few seconds."""
    return {
        **guild_key(position.guild_id, POSITION_SK),
        "data": s(position.model_dump_json()),
        "lease_token": n(position.lease_token),
    }


def item_to_position(item: Item) -> PlaybackPosition:
    """The inverse of position_to_item."""
    return PlaybackPosition.model_validate_json(item["data"]["S"])


def item_to_lease(item: Item) -> Lease:
    """A Lease from a LEASE item (written by update expressions, hence no forward mapping)."""
    return Lease(
        guild_id=item["guild_id"]["S"],
        owner=item["owner"]["S"],
        expires_at=to_datetime(num(item, "lease_until")),
        token=int(num(item, "token")),
    )


def heartbeat_to_item(heartbeat: WorkerHeartbeat) -> Item:
    """The HEARTBEAT item; DynamoDB's TTL deletes it some time after it expires."""
    return {
        **worker_key(heartbeat.worker_id),
        "data": s(heartbeat.model_dump_json()),
        TTL_ATTRIBUTE: ttl_value(heartbeat.expires_at.timestamp()),
    }


def item_to_heartbeat(item: Item) -> WorkerHeartbeat:
    """The inverse of heartbeat_to_item."""
    return WorkerHeartbeat.model_validate_json(item["data"]["S"])


def playlist_to_item(playlist: Playlist) -> Item:
    """A PLAYLIST item, keyed by the normalised name; its creator in the clear, for the
    condition of a save that may only replace its own playlist."""
    return {
        **guild_key(playlist.guild_id, playlist_sk(playlist.key)),
        "name": s(playlist.name),
        "created_by": s(playlist.created_by),
        "data": {"B": pack(playlist)},
    }


def item_to_playlist(item: Item) -> Playlist:
    """The inverse of playlist_to_item."""
    return unpack(item["data"]["B"], Playlist)
