"""The DynamoDB item layout: pure mapping round trips, keys, and the shared table definition."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.state import (
    GuildSettings,
    GuildState,
    LoopMode,
    NowPlaying,
    PlaybackPosition,
    Playlist,
    QueuedTrack,
    StateTooLarge,
    WorkerHeartbeat,
    table_definition,
    ttl_specification,
)
from shared.state import dynamodb_items as items

snowflakes = st.from_regex(r"[0-9]{1,20}", fullmatch=True)
texts = st.text(max_size=40)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)

tracks = st.builds(
    QueuedTrack,
    entry_id=st.text(min_size=1, max_size=40),
    query=st.text(min_size=1, max_size=80),
    webpage_url=texts,
    title=texts,
    duration_s=st.none() | seconds,
    thumbnail=texts,
    requester_id=snowflakes,
    added_at=moments,
    source_job_id=snowflakes,
)
guild_settings = st.builds(
    GuildSettings,
    volume=st.integers(0, 150),
    loop=st.sampled_from(LoopMode),
    autoplay=st.booleans(),
    stay_24_7=st.booleans(),
    dj_role_id=st.none() | snowflakes,
    vote_skip_ratio=st.floats(min_value=0.01, max_value=1),
    max_queue_length=st.none() | st.integers(1, 2000),
    max_track_length_s=st.none() | st.integers(1, 36_000),
    announce_channel_id=st.none() | snowflakes,
    filter_preset=st.sampled_from(["none", "bassboost", "nightcore"]),
)
states = st.builds(
    GuildState,
    guild_id=snowflakes,
    voice_channel_id=st.none() | snowflakes,
    text_channel_id=st.none() | snowflakes,
    now_playing=st.none()
    | st.builds(
        NowPlaying,
        track=tracks,
        position_s=seconds,
        position_updated_at=moments,
        paused=st.booleans(),
    ),
    queue=st.lists(tracks, max_size=5).map(tuple),
    history=st.lists(tracks, max_size=3).map(tuple),
    settings=guild_settings,
    applied_job_ids=st.lists(snowflakes, max_size=5).map(tuple),
    version=st.integers(0, 2**40),
    updated_at=st.none() | moments,
)


@given(states)
@settings(max_examples=60)
def test_state_item_round_trips(state: GuildState) -> None:
    item = items.state_to_item(state)
    assert item["PK"] == {"S": f"GUILD#{state.guild_id}"} and item["SK"] == {"S": "STATE"}
    assert int(item["version"]["N"]) == state.version
    assert items.item_to_state(item) == state


@given(
    st.builds(
        PlaybackPosition,
        guild_id=snowflakes,
        entry_id=st.text(min_size=1, max_size=40),
        position_s=seconds,
        paused=st.booleans(),
        updated_at=moments,
        lease_token=st.integers(0, 2**40),
    )
)
def test_position_item_round_trips(position: PlaybackPosition) -> None:
    item = items.position_to_item(position)
    assert item["SK"] == {"S": "POSITION"}
    assert int(item["lease_token"]["N"]) == position.lease_token
    assert items.item_to_position(item) == position


@given(
    st.builds(
        WorkerHeartbeat,
        worker_id=st.text(min_size=1, max_size=40),
        capacity=st.integers(0, 1000),
        active_sessions=st.integers(0, 1000),
        guild_ids=st.lists(snowflakes, max_size=5).map(tuple),
        started_at=moments,
        expires_at=moments,
        revision=texts,
    )
)
def test_heartbeat_item_round_trips_with_a_ttl_never_early(heartbeat: WorkerHeartbeat) -> None:
    item = items.heartbeat_to_item(heartbeat)
    assert item["PK"] == {"S": "WORKERS"} and item["SK"] == {"S": f"WORKER#{heartbeat.worker_id}"}
    ttl = int(item["expires_at"]["N"])
    assert ttl == math.ceil(heartbeat.expires_at.timestamp())
    assert items.item_to_heartbeat(item) == heartbeat


@given(
    st.builds(
        Playlist,
        guild_id=snowflakes,
        name=st.text(min_size=1, max_size=30).filter(str.strip),
        tracks=st.lists(tracks, max_size=4).map(tuple),
        created_by=snowflakes,
        updated_at=moments,
    )
)
def test_playlist_item_round_trips_under_its_normalised_name(playlist: Playlist) -> None:
    item = items.playlist_to_item(playlist)
    assert item["SK"] == {"S": f"PLAYLIST#{playlist.name.strip().casefold()}"}
    assert item["name"] == {"S": playlist.name}
    assert items.item_to_playlist(item) == playlist


@given(st.floats(min_value=1e9, max_value=5e9), st.integers(1, 2**40))
def test_lease_item_maps_to_a_lease(until: float, token: int) -> None:
    item = {
        **items.guild_key("123", items.LEASE_SK),
        "guild_id": items.s("123"),
        "owner": items.s("worker-1"),
        "lease_until": items.n(until),
        "token": items.n(token),
        items.LEASE_INDEX_PK: items.s(items.LEASE_INDEX_VALUE),
    }
    lease = items.item_to_lease(item)
    assert lease.owner == "worker-1" and lease.token == token
    assert lease.expires_at.timestamp() == pytest.approx(until, abs=1e-6)


def test_an_oversized_state_is_refused_before_dynamodb_sees_it() -> None:
    noise = random.Random(7)  # incompressible text: the size check runs after compression
    huge = GuildState(
        guild_id="1",
        queue=tuple(
            QueuedTrack(
                entry_id=str(i),
                query=noise.randbytes(1000).hex(),
                webpage_url=noise.randbytes(1000).hex(),
                requester_id="2",
            )
            for i in range(300)
        ),
    )
    with pytest.raises(StateTooLarge):
        items.state_to_item(huge)


def test_table_definition_declares_exactly_the_key_attributes_it_uses() -> None:
    definition = table_definition("musicbot-state")
    declared = {a["AttributeName"] for a in definition["AttributeDefinitions"]}
    used = {k["AttributeName"] for k in definition["KeySchema"]} | {
        k["AttributeName"]
        for index in definition["GlobalSecondaryIndexes"]
        for k in index["KeySchema"]
    }
    # CreateTable rejects a declared attribute that no key uses, and the reverse.
    assert declared == used
    assert definition["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl_specification() == {"AttributeName": "expires_at", "Enabled": True}
    # The lease index key is a number: expiries are compared, not matched.
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    assert types["lease_until"] == "N"
