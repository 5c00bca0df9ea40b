"""Foreign errors become StoreUnavailable at the boundary; the factory picks the backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from aiobotocore.session import get_session
from botocore.config import Config

from shared.settings import load_settings
from shared.state import (
    DynamoDbStateStore,
    GuildState,
    SqliteStateStore,
    StoreUnavailable,
    open_state_store,
)
from tests.fixtures_aws import MotoServer


async def test_a_missing_table_is_store_unavailable(moto_server: MotoServer) -> None:
    store = DynamoDbStateStore(
        "no-such-table", region=moto_server.region, endpoint_url=moto_server.endpoint_url
    )
    try:
        with pytest.raises(StoreUnavailable):
            await store.get_guild("1")
        with pytest.raises(StoreUnavailable):
            await store.renew_leases("w", ["1", "2"], ttl_s=15)
    finally:
        await store.aclose()


async def test_an_unreachable_endpoint_is_store_unavailable() -> None:
    # An injected client without retries keeps this fast; the error mapping is the same.
    creator = get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    async with creator as client:
        store = DynamoDbStateStore("t", region="us-east-1", client=client)
        with pytest.raises(StoreUnavailable):
            await store.acquire_lease("1", "w", ttl_s=15)


async def test_a_locked_sqlite_database_is_store_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite3")
    store = SqliteStateStore(path, busy_timeout_s=0.05)
    await store.save_guild(GuildState(guild_id="1"))
    # GIVEN another process holding the write lock
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable):
            await store.save_guild(GuildState(guild_id="2"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    # THEN the store works again once the lock is gone
    assert (await store.save_guild(GuildState(guild_id="2"))).version == 1
    await store.aclose()


async def test_an_unopenable_sqlite_path_is_store_unavailable(tmp_path: Path) -> None:
    store = SqliteStateStore(str(tmp_path / "missing-dir" / "state.sqlite3"))
    with pytest.raises(StoreUnavailable):
        await store.get_guild("1")
    await store.aclose()


async def test_open_state_store_follows_the_settings(tmp_path: Path) -> None:
    embedded = open_state_store(load_settings(sqlite_path=str(tmp_path / "s.sqlite3")))
    cloud = open_state_store(load_settings(state_table="musicbot-state"))
    assert isinstance(embedded, SqliteStateStore)
    assert isinstance(cloud, DynamoDbStateStore)
    await embedded.aclose()
    await cloud.aclose()
