"""The worker's side of the state store, on both backends (DynamoDB on moto, SQLite):
the snapshot <-> GuildState adapter, leases through Ownership, and the job ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from shared.state import (
    DynamoDbStateStore,
    JobClaim,
    LeaseLost,
    SqliteStateStore,
    StateStore,
)
from tests.fixtures_aws import MotoServer
from tests.integration.test_state_store import FakeClock
from voice_worker.durable_store import DurableSessionStore, from_stored_track, to_stored_track
from voice_worker.idempotency import LedgerJobs
from voice_worker.models import GuildSnapshot, NowPlaying, QueuedTrack, SessionState
from voice_worker.ownership import Ownership
from voice_worker.sources.models import TrackRef

GUILD = "1000"
StoreFactory = Callable[[], StateStore]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["dynamodb", "sqlite"])
async def open_store(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[StoreFactory]:
    """Each call is another worker's connection to one fresh table / file."""
    opened: list[StateStore] = []
    table = ""
    if request.param == "dynamodb":
        moto: MotoServer = request.getfixturevalue("moto_server")
        table = moto.create_state_table()

    def make() -> StateStore:
        store: StateStore
        if table:
            store = DynamoDbStateStore(
                table, region=moto.region, endpoint_url=moto.endpoint_url, clock=clock
            )
        else:
            store = SqliteStateStore(str(tmp_path / "state.sqlite3"), clock=clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.aclose()


def item(n: int, *, job_id: str = "77") -> QueuedTrack:
    ref = TrackRef(
        title=f"song {n}",
        webpage_url=f"https://example.com/{n}",
        duration_s=180.0,
        uploader="band",
        thumbnail=f"https://img.example.com/{n}.jpg",
    )
    return QueuedTrack(
        ref=ref, requester_id="42", requester_name="ann", job_id=job_id, entry_id=f"e{n}"
    )


def snapshot(playing: QueuedTrack | None, *queued: QueuedTrack, at: float = 0.0) -> GuildSnapshot:
    return GuildSnapshot(
        guild_id=GUILD,
        state=SessionState.PLAYING if playing else SessionState.IDLE,
        voice_channel_id="2000",
        text_channel_id="3000",
        now_playing=NowPlaying(track=playing, position_s=at) if playing else None,
        queue=queued,
    )


def owner(store: StateStore, clock: FakeClock, worker_id: str, capacity: int = 5) -> Ownership:
    return Ownership(store, worker_id=worker_id, ttl_s=15, capacity=capacity, clock=clock)


def test_a_queue_entry_survives_the_mapping_both_ways() -> None:
    original = item(1)
    assert from_stored_track(to_stored_track(original)) == original


async def test_snapshots_land_in_guild_state_and_history_grows_on_track_change(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    # GIVEN a worker holding the guild's lease
    store = open_store()
    ownership = owner(store, clock, "w1")
    assert await ownership.claim(GUILD) is not None
    sessions = DurableSessionStore(store, ownership.lease_of)

    # WHEN the session saves while playing 1 with 2 and 3 queued, then moves on to 2
    await sessions.save(snapshot(item(1), item(2), item(3), at=12.5))
    await sessions.save(snapshot(item(2), item(3)))

    # THEN the shared GuildState (what /queue and /nowplaying read) says so
    state = await store.get_guild(GUILD)
    assert state is not None
    assert state.now_playing is not None and state.now_playing.track.entry_id == "e2"
    assert [t.entry_id for t in state.queue] == ["e3"]
    assert [t.title for t in state.history] == ["song 1"]
    assert (state.voice_channel_id, state.text_channel_id) == ("2000", "3000")
    assert state.queue[0].requester_name == "ann"
    # AND another worker resumes from exactly that
    loaded = await DurableSessionStore(open_store()).load(GUILD)
    assert loaded is not None and loaded.now_playing is not None
    assert loaded.now_playing.track == item(2)
    assert loaded.queue == (item(3),)


async def test_positions_are_saved_cheaply_and_fenced_by_the_lease(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    store = open_store()
    ownership = owner(store, clock, "w1")
    await ownership.claim(GUILD)
    sessions = DurableSessionStore(store, ownership.lease_of)
    await sessions.save(snapshot(item(1), at=0.0))

    clock.advance(2)
    await sessions.save_position(snapshot(item(1), at=41.0))
    loaded = await sessions.load(GUILD)
    assert loaded is not None and loaded.now_playing is not None
    assert loaded.now_playing.position_s == 41.0

    # WHEN the lease runs out and another worker takes the guild
    clock.advance(20)
    thief = owner(open_store(), clock, "w2")
    assert await thief.claim(GUILD) is not None
    stale = ownership._leases[GUILD]  # what the old owner still believes it has
    with pytest.raises(LeaseLost):
        await store.update_position(stale, entry_id="e1", position_s=50.0)
    # THEN the old owner's saves are skipped, not written over the new owner's state
    assert ownership.lease_of(GUILD) is None
    await sessions.save(snapshot(None))
    state = await store.get_guild(GUILD)
    assert state is not None and state.now_playing is not None


async def test_ownership_respects_capacity_renews_and_learns_of_a_loss(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    first = owner(open_store(), clock, "w1", capacity=2)
    second = owner(open_store(), clock, "w2", capacity=2)
    assert await first.claim("1") is not None and await first.claim("2") is not None
    assert first.full and await first.claim("3") is None  # a full worker claims nothing new
    assert await second.claim("1") is None  # held by a live owner

    clock.advance(10)
    assert await first.renew() == set()
    clock.advance(10)  # 20 s after the claim, 10 s after the renewal: still ours
    assert await second.claim("1") is None

    clock.advance(20)  # now expired: orphans, taken by the other worker
    assert {lease.guild_id for lease in await second.orphans()} == {"1", "2"}
    assert await second.claim("1") is not None
    assert await first.renew() == {"1", "2"}  # 2 expired too: not revived
    assert first.owned == frozenset()


async def test_concurrent_claims_of_one_guild_have_one_winner(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    workers = [owner(open_store(), clock, f"w{n}") for n in range(4)]
    results = await asyncio.gather(*(w.claim(GUILD) for w in workers))
    winners = [w.worker_id for w, lease in zip(workers, results, strict=True) if lease]
    assert len(winners) == 1


async def test_a_clean_stop_hands_guilds_over_at_once(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    store = open_store()
    leaving = owner(store, clock, "w1")
    await leaving.claim(GUILD)
    await leaving.heartbeat(active_sessions=1)
    assert [beat.worker_id for beat in await store.alive_workers()] == ["w1"]

    await leaving.stop(handover=True)

    assert [lease.guild_id for lease in await store.orphaned_leases()] == [GUILD]
    assert await store.alive_workers() == []
    assert await owner(open_store(), clock, "w2").claim(GUILD) is not None


async def test_the_ledger_lets_one_handler_in_and_remembers_done_jobs(
    open_store: StoreFactory,
) -> None:
    first = LedgerJobs(open_store(), owner="w1")
    second = LedgerJobs(open_store(), owner="w2")
    assert await first.claim("job-1") is JobClaim.CLAIMED
    assert await second.claim("job-1") is JobClaim.IN_PROGRESS
    await first.release("job-1")  # failed: the retry may run anywhere
    assert await second.claim("job-1") is JobClaim.CLAIMED
    await second.mark_handled("job-1")
    assert await first.claim("job-1") is JobClaim.DONE


async def test_a_job_whose_effect_was_saved_is_done_even_if_its_handler_died(
    open_store: StoreFactory, clock: FakeClock
) -> None:
    # GIVEN a handler that saved the track of job 77 and died before finishing the job
    store = open_store()
    ownership = owner(store, clock, "w1")
    await ownership.claim(GUILD)
    assert await LedgerJobs(store, owner="w1").claim("77") is JobClaim.CLAIMED
    await DurableSessionStore(store, ownership.lease_of).save(snapshot(item(1, job_id="77")))

    # WHEN its claim has expired and SQS redelivers the job to another worker
    clock.advance(120)
    other = LedgerJobs(open_store(), owner="w2", states=store)

    # THEN the guild's state recognises the job: acked, not played again
    assert await other.claim("77", guild_id=GUILD) is JobClaim.DONE
    assert await other.claim("78", guild_id=GUILD) is JobClaim.CLAIMED
