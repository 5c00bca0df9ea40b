"""DynamoDB backend of the StateStore: one on-demand table, conditional writes where contended."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any

import structlog
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.state import dynamodb_items as items
from shared.state.base import (
    JOB_DONE_TTL_S,
    Clock,
    JobClaim,
    check_playlist_length,
    prepare_position,
    prepare_save,
    to_datetime,
)
from shared.state.exceptions import LeaseLost, StaleState, StoreUnavailable
from shared.state.models import (
    GuildState,
    Lease,
    Playlist,
    WorkerHeartbeat,
    playlist_key,
)

log = structlog.get_logger(__name__)


class _ConditionFailed(Exception):
    """A conditional write was refused; `item` is the current item when DynamoDB returned it."""

    def __init__(self, item: items.Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


class DynamoDbStateStore:
    """A StateStore on one DynamoDB table through aiobotocore.

    The client is created on first use and kept for the life of the process (as SqsJobQueue
    does), unless one is injected.
    """

    def __init__(
        self,
        table_name: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        client: Any = None,
        max_queue_length: int = 500,
        history_length: int = 20,
        clock: Clock = time.time,
    ) -> None:
        self._table = table_name
        self._region = region
        self._endpoint_url = endpoint_url or None
        self._client = client
        self._max_queue_length = max_queue_length
        self._history_length = history_length
        self._clock = clock
        self._exit_stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def _ddb(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    config = Config(
                        connect_timeout=1.0,
                        read_timeout=5.0,
                        retries={"max_attempts": 3, "mode": "standard"},
                    )
                    creator = get_session().create_client(
                        "dynamodb",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=config,
                    )
                    self._client = await self._exit_stack.enter_async_context(creator)
        return self._client

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One API call with errors translated: _ConditionFailed, or StoreUnavailable."""
        try:
            client = await self._ddb()
            response: dict[str, Any] = await getattr(client, operation)(
                TableName=self._table, **params
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ConditionalCheckFailedException":
                raise _ConditionFailed(exc.response.get("Item")) from None
            log.warning("state.dynamodb_error", operation=operation, code=error.get("Code"))
            raise StoreUnavailable(f"DynamoDB {operation} failed") from exc
        except BotoCoreError as exc:
            log.warning("state.dynamodb_error", operation=operation, error=type(exc).__name__)
            raise StoreUnavailable(f"DynamoDB {operation} failed") from exc
        return response

    async def _get(self, key: items.Item) -> items.Item | None:
        response = await self._call("get_item", Key=key, ConsistentRead=True)
        item: items.Item | None = response.get("Item")
        return item

    async def _query(self, **params: Any) -> list[items.Item]:
        found: list[items.Item] = []
        while True:
            response = await self._call("query", **params)
            found.extend(response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return found
            params["ExclusiveStartKey"] = last

    # Guild state -------------------------------------------------------------------------

    async def get_guild(self, guild_id: str) -> GuildState | None:
        """The latest state, with the position record overlaid on the track on air."""
        state_item, position_item = await asyncio.gather(
            self._get(items.guild_key(guild_id, items.STATE_SK)),
            self._get(items.guild_key(guild_id, items.POSITION_SK)),
            return_exceptions=True,  # so a failed read never leaves the other one dangling
        )
        if isinstance(state_item, BaseException):
            raise state_item
        if isinstance(position_item, BaseException):
            raise position_item
        if state_item is None:
            return None
        state = items.item_to_state(state_item)
        if position_item is not None:
            state = state.with_position(items.item_to_position(position_item))
        return state

    async def save_guild(
        self, state: GuildState, *, expected_version: int | None = None
    ) -> GuildState:
        """Conditional put on the version; StaleState if someone saved in between."""
        expected = state.version if expected_version is None else expected_version
        saved = prepare_save(
            state,
            expected_version=expected,
            now=self._clock(),
            max_queue_length=self._max_queue_length,
            history_length=self._history_length,
        )
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(PK)"}
            if expected == 0
            else {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": items.n(expected)},
            }
        )
        try:
            await self._call("put_item", Item=items.state_to_item(saved), **condition)
        except _ConditionFailed:
            raise StaleState(state.guild_id, expected) from None
        return saved

    async def update_position(
        self, lease: Lease, *, entry_id: str, position_s: float, paused: bool = False
    ) -> None:
        """Put the POSITION item unless a newer lease holder (higher token) wrote it."""
        position = prepare_position(
            lease, entry_id=entry_id, position_s=position_s, paused=paused, now=self._clock()
        )
        try:
            await self._call(
                "put_item",
                Item=items.position_to_item(position),
                ConditionExpression="attribute_not_exists(PK) OR lease_token <= :token",
                ExpressionAttributeValues={":token": items.n(lease.token)},
            )
        except _ConditionFailed:
            raise LeaseLost(lease.guild_id) from None

    # Leases ------------------------------------------------------------------------------

    async def acquire_lease(self, guild_id: str, worker_id: str, *, ttl_s: float) -> Lease | None:
        """Conditional update: free, expired, or ours already; the token goes up by one."""
        now = self._clock()
        try:
            response = await self._call(
                "update_item",
                Key=items.guild_key(guild_id, items.LEASE_SK),
                UpdateExpression=(
                    "SET #owner = :me, lease_until = :until, guild_id = :guild, "
                    f"{items.LEASE_INDEX_PK} = :index ADD #token :one"
                ),
                ConditionExpression=(
                    "attribute_not_exists(PK) OR lease_until <= :now OR #owner = :me"
                ),
                ExpressionAttributeNames={"#owner": "owner", "#token": "token"},
                ExpressionAttributeValues={
                    ":me": items.s(worker_id),
                    ":until": items.n(now + ttl_s),
                    ":now": items.n(now),
                    ":guild": items.s(guild_id),
                    ":index": items.s(items.LEASE_INDEX_VALUE),
                    ":one": items.n(1),
                },
                ReturnValues="ALL_NEW",
            )
        except _ConditionFailed:
            return None
        return items.item_to_lease(response["Attributes"])

    async def _renew(self, guild_id: str, worker_id: str, now: float, ttl_s: float) -> bool:
        try:
            await self._call(
                "update_item",
                Key=items.guild_key(guild_id, items.LEASE_SK),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="#owner = :me AND lease_until > :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":me": items.s(worker_id),
                    ":until": items.n(now + ttl_s),
                    ":now": items.n(now),
                },
            )
        except _ConditionFailed:
            return False
        return True

    async def renew_leases(
        self, worker_id: str, guild_ids: Iterable[str], *, ttl_s: float
    ) -> set[str]:
        """One conditional update per guild, in parallel; expired leases are not revived."""
        now = self._clock()
        wanted = sorted(set(guild_ids))
        results = await asyncio.gather(
            *(self._renew(guild_id, worker_id, now, ttl_s) for guild_id in wanted),
            return_exceptions=True,
        )
        for result in results:
            # A failed call says nothing about ownership: report it, don't call the lease lost.
            if isinstance(result, BaseException):
                raise result
        return {guild_id for guild_id, held in zip(wanted, results, strict=True) if held is True}

    async def release_lease(self, guild_id: str, worker_id: str, *, handover: bool = False) -> bool:
        """Free our lease now; without handover also drop it from the orphan index.

        The item is kept, never deleted: its token must keep counting up for fencing to work.
        """
        values: items.Item
        if handover:
            update, values = "SET lease_until = :now", {":now": items.n(self._clock())}
        else:
            update = f"SET #owner = :nobody, lease_until = :zero REMOVE {items.LEASE_INDEX_PK}"
            values = {":nobody": items.s(""), ":zero": items.n(0)}
        try:
            await self._call(
                "update_item",
                Key=items.guild_key(guild_id, items.LEASE_SK),
                UpdateExpression=update,
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": items.s(worker_id), **values},
            )
        except _ConditionFailed:
            return False
        return True

    async def get_lease(self, guild_id: str) -> Lease | None:
        """The unexpired lease of the guild, or None."""
        item = await self._get(items.guild_key(guild_id, items.LEASE_SK))
        if item is None or items.num(item, "lease_until") <= self._clock():
            return None
        return items.item_to_lease(item)

    async def orphaned_leases(self, *, limit: int = 100) -> list[Lease]:
        """Query the sparse lease index for expiries in the past (eventually consistent)."""
        response = await self._call(
            "query",
            IndexName=items.LEASE_INDEX,
            KeyConditionExpression=f"{items.LEASE_INDEX_PK} = :index AND lease_until <= :now",
            ExpressionAttributeValues={
                ":index": items.s(items.LEASE_INDEX_VALUE),
                ":now": items.n(self._clock()),
            },
            Limit=limit,
        )
        return [items.item_to_lease(item) for item in response.get("Items", [])]

    # Workers -----------------------------------------------------------------------------

    async def put_heartbeat(self, heartbeat: WorkerHeartbeat) -> None:
        """Unconditional put: only its own worker writes a heartbeat."""
        await self._call("put_item", Item=items.heartbeat_to_item(heartbeat))

    async def alive_workers(self) -> list[WorkerHeartbeat]:
        """Query the WORKERS partition, dropping expired heartbeats TTL has not deleted yet."""
        now = self._clock()
        found = await self._query(
            KeyConditionExpression="PK = :pk",
            FilterExpression=f"{items.TTL_ATTRIBUTE} > :now",
            ExpressionAttributeValues={":pk": items.s(items.WORKERS_PK), ":now": items.n(now)},
            ConsistentRead=True,
        )
        beats = (items.item_to_heartbeat(item) for item in found)
        return [beat for beat in beats if beat.alive_at(to_datetime(now))]

    async def delete_heartbeat(self, worker_id: str) -> None:
        """Delete the worker's heartbeat item."""
        await self._call("delete_item", Key=items.worker_key(worker_id))

    # Jobs --------------------------------------------------------------------------------

    async def claim_job(self, job_id: str, *, owner: str, ttl_s: float) -> JobClaim:
        """Conditional put: no record, or an expired one (a dead handler's claim)."""
        now = self._clock()
        try:
            await self._call(
                "put_item",
                Item={
                    **items.job_key(job_id),
                    "status": items.s(JobClaim.IN_PROGRESS),
                    "owner": items.s(owner),
                    items.TTL_ATTRIBUTE: items.ttl_value(now + ttl_s),
                },
                ConditionExpression=f"attribute_not_exists(PK) OR {items.TTL_ATTRIBUTE} <= :now",
                ExpressionAttributeValues={":now": items.n(now)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailed as refused:
            current = refused.item or await self._get(items.job_key(job_id))
            if current is not None and current["status"]["S"] == JobClaim.DONE:
                return JobClaim.DONE
            return JobClaim.IN_PROGRESS
        return JobClaim.CLAIMED

    async def finish_job(
        self, job_id: str, *, result: str = "", ttl_s: float = JOB_DONE_TTL_S
    ) -> None:
        """Unconditional put: done is final whoever holds the claim."""
        await self._call(
            "put_item",
            Item={
                **items.job_key(job_id),
                "status": items.s(JobClaim.DONE),
                "result": items.s(result),
                items.TTL_ATTRIBUTE: items.ttl_value(self._clock() + ttl_s),
            },
        )

    async def release_job(self, job_id: str, *, owner: str) -> None:
        """Delete our in-progress claim; someone else's claim or a done record stays."""
        with contextlib.suppress(_ConditionFailed):
            await self._call(
                "delete_item",
                Key=items.job_key(job_id),
                ConditionExpression="#owner = :me AND #status = :in_progress",
                ExpressionAttributeNames={"#owner": "owner", "#status": "status"},
                ExpressionAttributeValues={
                    ":me": items.s(owner),
                    ":in_progress": items.s(JobClaim.IN_PROGRESS),
                },
            )

    # Playlists ---------------------------------------------------------------------------

    async def save_playlist(
        self, playlist: Playlist, *, replace: bool = True, only_creator: bool = False
    ) -> bool:
        """Put the playlist, conditionally: free name, same creator (its ``created_by``
        attribute), or anyone."""
        check_playlist_length(playlist, self._max_queue_length)
        condition: dict[str, Any] = {}
        if not replace:
            condition = {"ConditionExpression": "attribute_not_exists(PK)"}
        elif only_creator:
            condition = {
                "ConditionExpression": "attribute_not_exists(PK) OR created_by = :me",
                "ExpressionAttributeValues": {":me": items.s(playlist.created_by)},
            }
        try:
            await self._call("put_item", Item=items.playlist_to_item(playlist), **condition)
        except _ConditionFailed:
            return False
        return True

    async def get_playlist(self, guild_id: str, name: str) -> Playlist | None:
        """Get the playlist item by normalised name."""
        item = await self._get(items.guild_key(guild_id, items.playlist_sk(playlist_key(name))))
        return None if item is None else items.item_to_playlist(item)

    async def list_playlists(self, guild_id: str) -> list[str]:
        """Query the guild's PLAYLIST# items for their names only."""
        found = await self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ProjectionExpression="#name",
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues={
                ":pk": items.s(items.guild_pk(guild_id)),
                ":prefix": items.s(items.PLAYLIST_PREFIX),
            },
        )
        return sorted((item["name"]["S"] for item in found), key=playlist_key)

    async def delete_playlist(self, guild_id: str, name: str) -> bool:
        """Delete the playlist item, telling whether there was one."""
        response = await self._call(
            "delete_item",
            Key=items.guild_key(guild_id, items.playlist_sk(playlist_key(name))),
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

    async def aclose(self) -> None:
        """Close the client we created (an injected one belongs to the caller)."""
        await self._exit_stack.aclose()
        self._client = None
