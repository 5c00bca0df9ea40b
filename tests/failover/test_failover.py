"""Fault injection with two worker processes: kill -9, SIGTERM, duplicates, poison, races.

GIVEN two `musicbot worker` processes on one SQS FIFO queue and one DynamoDB table (moto) and
one fake Discord, WHEN the owner of a playing guild dies or stops, THEN the other worker takes
the guild over and the listening ear hears the rest of the track, the queue and every job
sent meanwhile: nothing lost, nothing played twice.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx
import pytest

from fake_discord.interactions import InteractionRecord
from shared.jobs import PlayJob, Requester, encode_job
from shared.queue.sqs import PRIOR_RECEIVES, inbox_name
from shared.state import GuildState, NowPlaying, QueuedTrack
from tests.failover.conftest import (
    LEASE_TTL_S,
    MAX_ATTEMPTS,
    POSITION_SAVE_INTERVAL_S,
    Fleet,
    eventually,
    reply_of,
)
from voice_worker.failures import GAVE_UP

pytestmark = [pytest.mark.failover, pytest.mark.timeout(120)]

# Audio is gone while the lease runs out (LEASE_TTL_S), then the taker rejoins and resolves.
MAX_RESUME_GAP_S = LEASE_TTL_S + 5.0
# Resuming from the last saved position replays at most one save interval (plus jitter).
MAX_REPLAY_S = POSITION_SAVE_INTERVAL_S + 1.5
TOLERANCE_S = 0.8


def _gap_between_connections(fleet: Fleet) -> float:
    reports = fleet.fake.ear_reports(fleet.guild_id)
    assert len(reports) >= 2, f"expected a second voice connection: {fleet.logs()}"
    first, later = reports[0], reports[1:]
    assert first.last_packet_monotonic is not None
    starts = [r.first_packet_monotonic for r in later if r.first_packet_monotonic is not None]
    return min(starts) - first.last_packet_monotonic


async def two_workers_playing(fleet: Fleet, *, track_s: int, heard_s: float) -> tuple[str, str]:
    """Workers "a" and "b", a 440 Hz track of ``track_s`` heard for ``heard_s``; returns the
    worker playing it and the other one."""
    await fleet.start_two_workers()
    await fleet.command("play", query=fleet.tones.url(440, track_s))
    owner, other = await fleet.owner_and_other()
    await fleet.hear(440, heard_s)
    return owner, other


def play_job(fleet: Fleet, record: InteractionRecord, *, query: str) -> PlayJob:
    """The job the front door enqueues for this /play in the fleet's guild."""
    return PlayJob(
        job_id=record.id,
        guild_id=fleet.guild_id,
        channel_id=record.channel_id,
        application_id=fleet.fake.application_id,
        interaction_token=record.token,
        requester=Requester(user_id=record.user_id),
        query=query,
    )


async def test_kill_9_of_the_owner_mid_track_resumes_elsewhere_near_the_saved_position(
    fleet: Fleet,
) -> None:
    # GIVEN two workers, a 12 s track playing and a 3 s track queued
    await fleet.start_two_workers()
    first = await fleet.command("play", query=fleet.tones.url(440, 12))
    assert "Now playing" in reply_of(first), reply_of(first)
    queued = await fleet.command("play", query=fleet.tones.url(660, 3))
    assert "Queued" in reply_of(queued), reply_of(queued)
    owner, survivor = await fleet.owner_and_other()
    await fleet.hear(440, 4.0)

    # WHEN the owner is killed mid-track, and a /play is sent while nobody owns the guild
    fleet.workers[owner].process.kill()
    await fleet.workers[owner].process.wait()
    killed_at = time.monotonic()
    meanwhile = await fleet.fake.send_interaction(
        name="play", options={"query": fleet.tones.url(880, 2)}
    )
    assert meanwhile.http_status == 200

    # THEN the survivor takes the lease, rejoins and plays the rest, the queue and the new job
    assert await fleet.wait_owner(lambda who: who == survivor) == survivor
    await fleet.hear(880, 1.5)
    await fleet.wait_silent()
    gap = _gap_between_connections(fleet)
    heard_440, heard_660, heard_880 = fleet.heard(440), fleet.heard(660), fleet.heard(880)
    print(  # figures for the report (pytest -s)
        f"failover kill -9: gap {gap:.2f} s, 440 Hz heard {heard_440:.2f} s of 12, "
        f"takeover after {time.monotonic() - killed_at:.1f} s total"
    )
    assert gap < MAX_RESUME_GAP_S, fleet.logs()
    # Resumed near where it was: neither restarted (about 16 s heard) nor skipped.
    assert 12 - TOLERANCE_S <= heard_440 <= 12 + MAX_REPLAY_S, (heard_440, fleet.logs())
    assert 3 - TOLERANCE_S <= heard_660 <= 3 + TOLERANCE_S, heard_660  # queue intact, once
    assert 2 - TOLERANCE_S <= heard_880 <= 2 + TOLERANCE_S, heard_880  # job sent meanwhile
    answered = await fleet.answered(meanwhile)
    assert "Queued" in reply_of(answered), reply_of(answered)
    assert "takeover.resuming" in fleet.workers[survivor].event_names()


async def test_sigterm_hands_the_guild_over_at_once(fleet: Fleet) -> None:
    # GIVEN two workers and a 10 s track playing
    owner, survivor = await two_workers_playing(fleet, track_s=10, heard_s=3.0)

    # WHEN the owner is told to stop (a scale-in or a deploy)
    leaving = fleet.workers[owner]
    leaving.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(leaving.process.wait(), 20) == 0, leaving.tail()

    # THEN the other worker takes over without waiting for the lease to run out
    assert await fleet.wait_owner(lambda who: who == survivor) == survivor
    await fleet.hear(440, 10 - TOLERANCE_S)
    await fleet.wait_silent()
    gap = _gap_between_connections(fleet)
    heard = fleet.heard(440)
    print(f"failover SIGTERM: gap {gap:.2f} s, 440 Hz heard {heard:.2f} s of 10")
    assert gap < LEASE_TTL_S, fleet.logs()  # faster than an expiry could have made it
    assert 10 - TOLERANCE_S <= heard <= 10 + TOLERANCE_S, (heard, fleet.logs())
    events = leaving.event_names()
    assert "lease.released" in events and "worker.stopped" in events


async def test_a_redelivered_job_has_no_second_effect(fleet: Fleet) -> None:
    # GIVEN a /play handled once
    await fleet.start_two_workers()
    url = fleet.tones.url(440, 2)
    record = await fleet.command("play", query=url)
    assert "Now playing" in reply_of(record)
    await fleet.wait_silent()
    owner = await fleet.owner()
    assert owner is not None

    # WHEN SQS delivers the same job again, past its dedup window (a new message id), both
    # through the shared queue and straight into the owner's inbox
    guild = fleet.fake.guilds[0]
    job = play_job(fleet, record, query=url)
    sqs = fleet.moto.client("sqs")
    inbox_url = sqs.get_queue_url(QueueName=inbox_name(fleet.queue_url, owner))["QueueUrl"]
    for queue_url in (fleet.queue_url, inbox_url):
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=encode_job(job),
            MessageGroupId=guild.guild_id,
            MessageDeduplicationId=f"{record.id}-again-{queue_url[-12:]}",
        )

    # THEN the ledger recognises it: acked as a duplicate, nothing played again
    def acked_as_duplicate() -> bool:
        return any('"job.duplicate"' in w.log_path.read_text() for w in fleet.workers.values())

    assert await eventually(acked_as_duplicate), fleet.logs()
    await asyncio.sleep(2.0)  # time enough for a wrong second playback to be heard
    assert 2 - TOLERANCE_S <= fleet.heard(440) <= 2 + TOLERANCE_S
    assert len(fleet.fake.ear_reports(fleet.guild_id)) == 1
    healths = [await w.health() for w in fleet.workers.values()]
    assert sum(h["counters"]["jobs_succeeded"] for h in healths) == 1


async def test_poison_messages_end_in_the_dlq_and_the_user_is_told_once(fleet: Fleet) -> None:
    # GIVEN two workers
    await fleet.start_two_workers()
    guild = fleet.fake.guilds[0]
    sqs = fleet.moto.client("sqs")

    # WHEN a body nobody can decode arrives, and a job that already used up its attempts in
    # inboxes of workers that died handling it (its receive count travels with it)
    sqs.send_message(
        QueueUrl=fleet.queue_url,
        MessageBody='{"kind": "play", "oops": true}',
        MessageGroupId=guild.guild_id,
        MessageDeduplicationId="malformed-1",
    )
    record = fleet.fake.mint_interaction(name="play", options={"query": fleet.tones.url(440, 2)})
    async with httpx.AsyncClient() as client:  # the front door's deferral
        deferred = await client.post(
            f"{fleet.fake.rest_base_url}/interactions/{record.id}/{record.token}/callback",
            json={"type": 5},
        )
    assert deferred.status_code in (200, 204)
    job = play_job(fleet, record, query=fleet.tones.url(440, 2))
    sqs.send_message(
        QueueUrl=fleet.queue_url,
        MessageBody=encode_job(job),
        MessageGroupId=guild.guild_id,
        MessageDeduplicationId=record.id,
        MessageAttributes={
            PRIOR_RECEIVES: {"DataType": "Number", "StringValue": str(MAX_ATTEMPTS)}
        },
    )

    # THEN both end in the DLQ, the requester is told once, and the guild is still served
    answered = await fleet.answered(record)
    assert reply_of(answered) == GAVE_UP
    dead: list[dict[str, Any]] = []

    def dead_lettered() -> bool:
        dead[:] = fleet.dead_letters()
        return len(dead) >= 2

    assert await eventually(dead_lettered), fleet.logs()
    bodies = sorted(message["Body"] for message in dead)
    assert len(bodies) == 2 and '{"kind": "play", "oops": true}' in bodies, bodies
    assert any(record.id in body for body in bodies)
    after = await fleet.command("play", query=fleet.tones.url(660, 2))
    assert "Now playing" in reply_of(after), reply_of(after)
    await fleet.hear(660, 1.5)
    await asyncio.sleep(1.0)
    told = [m for m in fleet.fake.interaction(record.id).followups if GAVE_UP in str(m)]
    assert len(told) == 1
    assert fleet.heard(440) == 0  # the poison job never played


async def test_two_workers_racing_for_an_orphaned_guild_one_wins_and_resumes(
    fleet: Fleet,
) -> None:
    # GIVEN a guild whose owner died while a 6 s track was 2 s in (its lease ran out)
    guild = fleet.fake.guilds[0]
    url = fleet.tones.url(440, 6)
    track = QueuedTrack(
        entry_id="e1",
        query=url,
        webpage_url=url,
        title="440-6",
        duration_s=6.0,
        requester_id=guild.user_id,
    )
    await fleet.state.save_guild(
        GuildState(
            guild_id=guild.guild_id,
            voice_channel_id=guild.voice_channel_id,
            text_channel_id=guild.text_channel_id,
            now_playing=NowPlaying(track=track, position_s=2.0),
        )
    )
    assert await fleet.state.acquire_lease(guild.guild_id, "ghost", ttl_s=0.5) is not None
    await asyncio.sleep(0.6)
    assert [lease.owner for lease in await fleet.state.orphaned_leases()] == ["ghost"]
    fleet.fake.move_user()

    # WHEN two workers start at the same time and both scan for orphans
    await fleet.start_worker("a", wait=False)
    await fleet.start_worker("b", wait=False)
    await asyncio.gather(*(w.wait_ready() for w in fleet.workers.values()))

    # THEN exactly one claims it, joins once and plays the remaining 4 s
    await fleet.hear(440, 3.0)
    await fleet.wait_silent()
    claimed = [w for w, p in fleet.workers.items() if "takeover.claimed" in p.event_names()]
    assert len(claimed) == 1, fleet.logs()
    assert await fleet.owner() == claimed[0]
    assert len(fleet.fake.ear_reports(fleet.guild_id)) == 1  # one voice connection, no fight
    heard = fleet.heard(440)
    print(f"failover race: resumed at 2.0 s of 6, heard {heard:.2f} s")
    assert 4 - TOLERANCE_S <= heard <= 4 + TOLERANCE_S, heard


async def test_a_worker_that_lost_its_lease_stops_without_kicking_the_new_owner(
    fleet: Fleet,
) -> None:
    # GIVEN a worker playing a long track
    owner, other = await two_workers_playing(fleet, track_s=20, heard_s=2.0)

    # WHEN it freezes past its lease (SIGSTOP), the other takes over, and it wakes up again
    stale = fleet.workers[owner]
    stale.process.send_signal(signal.SIGSTOP)
    try:
        assert await fleet.wait_owner(lambda who: who == other) == other
        assert await eventually(lambda: len(fleet.fake.ear_reports(fleet.guild_id)) >= 2), (
            fleet.logs()
        )
    finally:
        stale.process.send_signal(signal.SIGCONT)

    # THEN the old owner notices, stops and drops its connection without an opcode 4 that
    # would pull the new owner out of the channel
    assert await eventually(lambda: "session.abandoned" in stale.event_names()), stale.tail()
    await asyncio.sleep(2.0)
    state = fleet.fake.bot_voice_state(fleet.guild_id)
    assert state is not None and state.get("channel_id") == fleet.fake.guilds[0].voice_channel_id
    latest = fleet.fake.ear_reports(fleet.guild_id)[-1]
    assert latest.last_packet_monotonic is not None
    assert time.monotonic() - latest.last_packet_monotonic < 1.0  # still playing
