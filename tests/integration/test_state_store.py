"""The StateStore contract, run against DynamoDB (moto's server) and SQLite alike.

Each test gets a fresh table or file and a fake clock shared by every store it opens, so "two
workers" are two store instances (two clients, two connections) on the same data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.state import (
    DynamoDbStateStore,
    GuildSettings,
    GuildState,
    JobClaim,
    LeaseLost,
    NowPlaying,
    Playlist,
    QueuedTrack,
    QueueFull,
    SqliteStateStore,
    StaleState,
    StateStore,
    WorkerHeartbeat,
)
from tests.fixtures_aws import MotoServer

TTL_S = 15.0


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def dt(self, offset_s: float = 0.0) -> datetime:
        return datetime.fromtimestamp(self.now + offset_s, UTC)


StoreFactory = Callable[..., StateStore]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["dynamodb", "sqlite"])
async def open_store(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[StoreFactory]:
    """A factory of stores over one fresh table/file: each call is another 'worker'."""
    opened: list[StateStore] = []
    if request.param == "dynamodb":
        moto: MotoServer = request.getfixturevalue("moto_server")
        table = moto.create_state_table()

        def make(**limits: Any) -> StateStore:
            store = DynamoDbStateStore(
                table,
                region=moto.region,
                endpoint_url=moto.endpoint_url,
                clock=clock,
                **limits,
            )
            opened.append(store)
            return store
    else:
        path = str(tmp_path / "state.sqlite3")

        def make(**limits: Any) -> StateStore:
            store = SqliteStateStore(path, clock=clock, **limits)
            opened.append(store)
            return store

    yield make
    for store in opened:
        await store.aclose()


@pytest.fixture
def store(open_store: StoreFactory) -> StateStore:
    return open_store()


def track(n: int, job_id: str = "9000") -> QueuedTrack:
    return QueuedTrack(
        entry_id=f"{job_id}-{n}",
        query=f"song {n}",
        webpage_url=f"https://example.com/watch?v={n}",
        title=f"Song {n}",
        duration_s=180.0 + n,
        requester_id="42",
        source_job_id=job_id,
    )


def playing_state(guild_id: str, clock: FakeClock, queued: int = 2) -> GuildState:
    return GuildState(
        guild_id=guild_id,
        voice_channel_id="500",
        text_channel_id="600",
        now_playing=NowPlaying(track=track(0), position_s=12.5, position_updated_at=clock.dt()),
        queue=tuple(track(i) for i in range(1, queued + 1)),
        settings=GuildSettings(volume=80, stay_24_7=True),
    )


# Guild state ------------------------------------------------------------------------------


async def test_guild_state_round_trips_and_versions_count_up(
    store: StateStore, clock: FakeClock
) -> None:
    assert await store.get_guild("1") is None
    # WHEN a new state is saved and read back
    saved = await store.save_guild(playing_state("1", clock).record_job("7001"))
    loaded = await store.get_guild("1")
    # THEN it is the same state, at version 1, stamped by the store
    assert saved.version == 1 and saved.updated_at == clock.dt()
    assert loaded == saved
    assert loaded.applied("7001") and not loaded.applied("7002")
    again = await store.save_guild(loaded.model_copy(update={"queue": ()}))
    assert again.version == 2
    assert (await store.get_guild("1")) == again


async def test_a_save_from_an_older_version_raises_stale_state(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    worker_a, worker_b = open_store(), open_store()
    await worker_a.save_guild(playing_state("2", clock))
    # GIVEN two workers that read the same version
    seen_by_a = await worker_a.get_guild("2")
    seen_by_b = await worker_b.get_guild("2")
    assert seen_by_a is not None and seen_by_b is not None
    # WHEN both save a change
    await worker_a.save_guild(seen_by_a.model_copy(update={"queue": ()}))
    # THEN the second one is refused instead of clobbering the first
    with pytest.raises(StaleState):
        await worker_b.save_guild(seen_by_b.model_copy(update={"text_channel_id": "601"}))
    with pytest.raises(StaleState):
        await worker_b.save_guild(GuildState(guild_id="2"))  # "new" state over an existing one
    with pytest.raises(StaleState):
        await worker_b.save_guild(GuildState(guild_id="3"), expected_version=4)
    current = await worker_b.get_guild("2")
    assert current is not None and current.queue == () and current.text_channel_id == "600"


async def test_concurrent_saves_of_one_version_let_exactly_one_through(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    stores = [open_store() for _ in range(3)]
    base = await stores[0].save_guild(GuildState(guild_id="4"))
    for round_ in range(5):
        attempts = [s.save_guild(base.record_job(f"{round_}{i}")) for i, s in enumerate(stores * 2)]
        results = await asyncio.gather(*attempts, return_exceptions=True)
        winners = [r for r in results if isinstance(r, GuildState)]
        assert len(winners) == 1, results
        assert all(isinstance(r, StaleState) for r in results if r is not winners[0])
        base = winners[0]


async def test_queue_bound_is_enforced_and_history_trimmed(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    store = open_store(max_queue_length=5, history_length=3)
    with pytest.raises(QueueFull):
        await store.save_guild(playing_state("5", clock, queued=6))
    saved = await store.save_guild(playing_state("5", clock, queued=5))
    # A guild may lower the bound, never raise it past the deployment's.
    lowered = saved.model_copy(update={"settings": GuildSettings(max_queue_length=3)})
    with pytest.raises(QueueFull):
        await store.save_guild(lowered)
    with pytest.raises(QueueFull):
        saved.enqueue((track(9),), limit=5)
    played = saved.model_copy(update={"history": tuple(track(i) for i in range(10, 16))})
    trimmed = await store.save_guild(played)
    assert [t.entry_id for t in trimmed.history] == ["9000-13", "9000-14", "9000-15"]
    assert (await store.get_guild("5")) == trimmed
    with pytest.raises(QueueFull):
        await store.save_playlist(
            Playlist(guild_id="5", name="big", tracks=(*saved.queue, track(6)), created_by="42")
        )


async def test_position_updates_do_not_conflict_with_queue_edits(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    player, editor = open_store(), open_store()
    lease = await player.acquire_lease("6", "worker-a", ttl_s=TTL_S)
    assert lease is not None
    read = await player.save_guild(playing_state("6", clock))
    # WHEN the player records positions while someone else edits the queue
    clock.advance(5)
    await player.update_position(lease, entry_id="9000-0", position_s=17.5)
    edited = await editor.save_guild(read.model_copy(update={"queue": (track(7),)}))
    clock.advance(5)
    await player.update_position(lease, entry_id="9000-0", position_s=22.5, paused=True)
    # THEN both changes survive and the read shows the latest position
    state = await editor.get_guild("6")
    assert state is not None and state.version == edited.version == 2
    assert [t.entry_id for t in state.queue] == ["9000-7"]
    assert state.now_playing is not None
    assert state.now_playing.position_s == 22.5 and state.now_playing.paused
    assert state.now_playing.position_updated_at == clock.dt()
    # A position of another entry (the track that just ended) is not applied to the next one.
    moved_on = state.model_copy(
        update={"now_playing": NowPlaying(track=track(7), position_updated_at=clock.dt(-1))}
    )
    await editor.save_guild(moved_on)
    fresh = await editor.get_guild("6")
    assert fresh is not None and fresh.now_playing is not None
    assert fresh.now_playing.track.entry_id == "9000-7" and fresh.now_playing.position_s == 0


# Leases -----------------------------------------------------------------------------------


async def test_concurrent_acquires_of_one_guild_have_exactly_one_winner(
    open_store: StoreFactory,
) -> None:
    workers = [open_store() for _ in range(2)]
    for round_ in range(25):
        guild_id = str(1000 + round_)
        leases = await asyncio.gather(
            *(w.acquire_lease(guild_id, f"worker-{i}", ttl_s=TTL_S) for i, w in enumerate(workers))
        )
        won = [lease for lease in leases if lease is not None]
        assert len(won) == 1, leases
        current = await workers[0].get_lease(guild_id)
        assert current == won[0]


async def test_an_expired_lease_goes_to_another_worker_and_the_old_owner_learns_it(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    worker_a, worker_b = open_store(), open_store()
    first = await worker_a.acquire_lease("7", "a", ttl_s=TTL_S)
    long_held = await worker_a.acquire_lease("8", "a", ttl_s=TTL_S * 4)
    assert first is not None and long_held is not None
    assert await worker_b.acquire_lease("7", "b", ttl_s=TTL_S) is None
    # Re-acquiring our own lease works and hands out a newer fencing token.
    again = await worker_a.acquire_lease("7", "a", ttl_s=TTL_S)
    assert again is not None and again.token > first.token
    # WHEN a's lease of guild 7 runs out (a stalled) and b takes the guild
    clock.advance(TTL_S + 1)
    taken = await worker_b.acquire_lease("7", "b", ttl_s=TTL_S)
    assert taken is not None and taken.owner == "b" and taken.token > again.token
    # THEN a's renewal leaves guild 7 out, and a's late position writes are refused
    assert await worker_a.renew_leases("a", ["7", "8", "999"], ttl_s=TTL_S) == {"8"}
    with pytest.raises(LeaseLost):  # by a's own clock
        await worker_a.update_position(again, entry_id="x", position_s=1.0)
    await worker_b.update_position(taken, entry_id="x", position_s=2.0)
    skewed = again.model_copy(update={"expires_at": clock.dt(60)})
    with pytest.raises(LeaseLost):  # by the fencing token, even when a's clock lags
        await worker_a.update_position(skewed, entry_id="x", position_s=3.0)
    assert await worker_a.get_lease("7") == taken


async def test_renewal_extends_and_does_not_revive_an_expired_lease(
    store: StateStore, clock: FakeClock
) -> None:
    await store.acquire_lease("9", "a", ttl_s=TTL_S)
    for _ in range(3):
        clock.advance(TTL_S - 1)
        assert await store.renew_leases("a", ["9"], ttl_s=TTL_S) == {"9"}
    lease = await store.get_lease("9")
    assert lease is not None and lease.expires_at == clock.dt(TTL_S)
    assert await store.renew_leases("someone-else", ["9"], ttl_s=TTL_S) == set()
    clock.advance(TTL_S)
    assert await store.get_lease("9") is None
    assert await store.renew_leases("a", ["9"], ttl_s=TTL_S) == set()
    assert await store.renew_leases("a", [], ttl_s=TTL_S) == set()


async def test_release_lets_another_worker_take_the_guild_at_once(
    open_store: StoreFactory,
) -> None:
    worker_a, worker_b = open_store(), open_store()
    for _ in range(3):
        held = await worker_a.acquire_lease("10", "a", ttl_s=TTL_S)
    assert held is not None
    await worker_a.update_position(held, entry_id="x", position_s=1.0)
    assert await worker_b.release_lease("10", "b") is False  # not b's to release
    assert await worker_b.acquire_lease("10", "b", ttl_s=TTL_S) is None
    assert await worker_a.release_lease("10", "a") is True
    assert await worker_a.release_lease("10", "a") is False  # already released
    assert await worker_a.get_lease("10") is None
    taken = await worker_b.acquire_lease("10", "b", ttl_s=TTL_S)
    # The fencing token keeps counting across a release, so the new owner's writes go through.
    assert taken is not None and taken.token > held.token
    await worker_b.update_position(taken, entry_id="x", position_s=2.0)
    assert await worker_b.release_lease("10", "b", handover=True) is True
    assert await worker_a.acquire_lease("10", "a", ttl_s=TTL_S) is not None


async def test_orphaned_leases_are_those_that_expired_without_release(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    dead, survivor = open_store(), open_store()
    # GIVEN a worker holding three guilds, one released on purpose, one handed over
    for guild_id in ("11", "12", "13"):
        assert await dead.acquire_lease(guild_id, "dead", ttl_s=TTL_S)
    await dead.release_lease("12", "dead")
    await dead.release_lease("13", "dead", handover=True)
    assert await survivor.acquire_lease("14", "survivor", ttl_s=TTL_S * 4)
    # THEN the handed-over guild is an orphan at once
    assert [lease.guild_id for lease in await survivor.orphaned_leases()] == ["13"]
    # WHEN the worker dies and its lease runs out
    clock.advance(TTL_S + 1)
    orphans = await survivor.orphaned_leases()
    assert sorted(lease.guild_id for lease in orphans) == ["11", "13"]
    assert {lease.owner for lease in orphans} == {"dead"}
    # THEN a survivor takes one over, and it is an orphan no more
    assert await survivor.acquire_lease("11", "survivor", ttl_s=TTL_S)
    assert [lease.guild_id for lease in await survivor.orphaned_leases(limit=10)] == ["13"]


# Workers ----------------------------------------------------------------------------------


async def test_heartbeats_expire_and_can_be_withdrawn(store: StateStore, clock: FakeClock) -> None:
    def beat(worker_id: str, ttl_s: float) -> WorkerHeartbeat:
        return WorkerHeartbeat(
            worker_id=worker_id,
            capacity=20,
            active_sessions=1,
            guild_ids=("11",),
            started_at=clock.dt(),
            expires_at=clock.dt(ttl_s),
            revision="abc123",
        )

    await store.put_heartbeat(beat("w1", 10))
    await store.put_heartbeat(beat("w2", 30))
    assert [hb.worker_id for hb in await store.alive_workers()] == ["w1", "w2"]
    clock.advance(10.5)  # w1 expired, even though no TTL sweep deleted it
    assert [hb.worker_id for hb in await store.alive_workers()] == ["w2"]
    refreshed = beat("w2", 30).model_copy(update={"active_sessions": 3})
    await store.put_heartbeat(refreshed)
    assert await store.alive_workers() == [refreshed]
    await store.delete_heartbeat("w2")
    assert await store.alive_workers() == []


# Jobs -------------------------------------------------------------------------------------


async def test_a_job_is_claimed_once_until_done_or_the_claim_expires(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    worker_a, worker_b = open_store(), open_store()
    assert await worker_a.claim_job("8001", owner="a", ttl_s=60) is JobClaim.CLAIMED
    assert await worker_b.claim_job("8001", owner="b", ttl_s=60) is JobClaim.IN_PROGRESS
    assert await worker_a.claim_job("8001", owner="a", ttl_s=60) is JobClaim.IN_PROGRESS
    # A crashed handler's claim runs out: the redelivery is handled again.
    clock.advance(61)
    assert await worker_b.claim_job("8001", owner="b", ttl_s=60) is JobClaim.CLAIMED
    await worker_b.finish_job("8001", result="queued 1 track")
    assert await worker_a.claim_job("8001", owner="a", ttl_s=60) is JobClaim.DONE
    clock.advance(3600)
    assert await worker_a.claim_job("8001", owner="a", ttl_s=60) is JobClaim.DONE


async def test_a_released_claim_lets_the_retry_in(open_store: StoreFactory) -> None:
    worker_a, worker_b = open_store(), open_store()
    assert await worker_a.claim_job("8002", owner="a", ttl_s=60) is JobClaim.CLAIMED
    await worker_b.release_job("8002", owner="b")  # not b's claim: no effect
    assert await worker_b.claim_job("8002", owner="b", ttl_s=60) is JobClaim.IN_PROGRESS
    await worker_a.release_job("8002", owner="a")
    assert await worker_b.claim_job("8002", owner="b", ttl_s=60) is JobClaim.CLAIMED
    await worker_b.finish_job("8002")
    await worker_b.release_job("8002", owner="b")  # done stays done
    assert await worker_a.claim_job("8002", owner="a", ttl_s=60) is JobClaim.DONE


async def test_concurrent_claims_of_one_job_have_exactly_one_winner(
    open_store: StoreFactory,
) -> None:
    workers = [open_store() for _ in range(2)]
    for round_ in range(15):
        job_id = str(8100 + round_)
        claims = await asyncio.gather(
            *(w.claim_job(job_id, owner=f"w{i}", ttl_s=60) for i, w in enumerate(workers * 2))
        )
        assert claims.count(JobClaim.CLAIMED) == 1, claims


# Playlists --------------------------------------------------------------------------------


async def test_a_save_that_may_only_replace_its_own_playlist_is_one_conditional_write(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    # GIVEN two front doors (two connections) saving the same new name for two members
    doors = [open_store() for _ in range(2)]
    for round_ in range(10):
        name = f"Mix {round_}"
        lists = [
            Playlist(guild_id="20", name=name, tracks=(track(n),), created_by=member)
            for n, member in ((1, "41"), (2, "42"))
        ]
        # WHEN both save at once, each only if the name is free or theirs
        saved = await asyncio.gather(
            *(
                door.save_playlist(lst, only_creator=True)
                for door, lst in zip(doors, lists, strict=True)
            )
        )
        # THEN exactly one wins and the stored playlist is the winner's
        assert sorted(saved) == [False, True], saved
        winner = lists[saved.index(True)]
        assert await doors[0].get_playlist("20", name) == winner
    # AND its creator may replace it, someone else may not, an unconditional save (a DJ) may
    mine = Playlist(guild_id="20", name="mine", tracks=(track(1),), created_by="41")
    assert await doors[0].save_playlist(mine, only_creator=True) is True
    again = mine.model_copy(update={"tracks": (track(2),), "updated_at": clock.dt()})
    assert await doors[1].save_playlist(again, only_creator=True) is True
    theirs = again.model_copy(update={"tracks": (track(3),), "created_by": "42"})
    assert await doors[1].save_playlist(theirs, only_creator=True) is False
    assert await doors[0].get_playlist("20", "MINE") == again
    assert await doors[0].save_playlist(theirs) is True
    assert await doors[0].get_playlist("20", "mine") == theirs


async def test_playlists_crud(store: StateStore, clock: FakeClock) -> None:
    mix = Playlist(guild_id="20", name="Road Trip", tracks=(track(1), track(2)), created_by="42")
    assert await store.save_playlist(mix) is True
    assert await store.save_playlist(mix.model_copy(update={"name": "chill"})) is True
    assert await store.save_playlist(Playlist(guild_id="21", name="other", created_by="1"))
    assert await store.get_playlist("20", "road trip") == mix
    assert await store.list_playlists("20") == ["chill", "Road Trip"]
    # replace=False keeps the existing one
    shorter = mix.model_copy(update={"tracks": (track(3),), "updated_at": clock.dt()})
    assert await store.save_playlist(shorter, replace=False) is False
    assert await store.get_playlist("20", "ROAD TRIP") == mix
    assert await store.save_playlist(shorter) is True
    assert await store.get_playlist("20", "Road Trip") == shorter
    assert await store.delete_playlist("20", "road TRIP") is True
    assert await store.delete_playlist("20", "road trip") is False
    assert await store.get_playlist("20", "Road Trip") is None
    assert await store.list_playlists("20") == ["chill"]
    assert await store.list_playlists("22") == []
