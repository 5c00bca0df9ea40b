"""The voice websocket lost without a close code: cut (1006) or zombied (no HEARTBEAT_ACK).

Policy (voice_worker/voice_connection.py): both are resumable. A cut connection surfaces at
once as close 1006; a voice gateway that stops acknowledging heartbeats is noticed when it
has been silent for two heartbeat intervals (plus a margin) and is then resumed the same way.
Either way the track goes on near where it was and the queue is kept. The stall with Discord's
own heartbeat interval (noticed after ≈ 11 s) is the long variant (LONG_FAULTS=1).
"""

from __future__ import annotations

import time

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from fake_discord.voice_gateway import VoiceConnection
from tests.e2e.conftest import Bot, reply_of
from tests.faults.test_voice_close_codes import (
    LONG,
    TRACK_S,
    RecordProperty,
    gap_after,
    seconds_heard,
    wait_heard,
)
from tests.fixtures_audio import ToneServer
from voice_worker.voice_connection import STALL_HEARTBEATS, STALL_MARGIN_S
from voice_worker.voice_recovery import VOICE_LOST_NOTICE

pytestmark = [pytest.mark.e2e]

MAX_GAP_S = 5.0
# discord.py heartbeats every min(interval, 5 s); the worker calls a websocket stalled after
# two of those periods and a margin (voice_connection.py). Allowed on top: the RESUME.
RESUME_ALLOWANCE_S = 2.0


def stall_noticed_within_s(heartbeat_ms: int) -> float:
    period_s = min(heartbeat_ms / 1000, 5.0)
    return STALL_HEARTBEATS * period_s + STALL_MARGIN_S + RESUME_ALLOWANCE_S


def voice_sockets(bot: Bot) -> list[VoiceConnection]:
    return list(bot.fake.voice.connections.get(bot.fake.guilds[0].guild_id, []))


async def start_two_tracks(bot: Bot, tone_server: ToneServer, track_s: float) -> None:
    """A 440 Hz track playing (heard for a second) and a 660 Hz one queued."""
    await bot.command("play", query=tone_server.url(440, track_s))
    queued = await bot.command("play", query=tone_server.url(660, 1.5))
    assert "Queued" in reply_of(queued)
    await bot.hear(440, 1.0)


def assert_resumed_in_place(bot: Bot, ears: int, sockets: int, track_s: float) -> None:
    """Same voice session and media (no rejoin), a new websocket, both jobs done, no notice."""
    heard_440 = seconds_heard(bot, 440)
    assert track_s - 2.5 <= heard_440 <= track_s + 1.0, heard_440
    assert len(bot.fake.ear_reports()) == ears, bot.fake.ear_reports()
    now = voice_sockets(bot)
    assert len(now) > sockets
    assert now[-1].open
    assert bot.fake.bot_voice_state() is not None
    assert bot.worker.counters.jobs_succeeded == 2
    assert not [m for m in bot.fake.channel_messages() if m.get("content") == VOICE_LOST_NOTICE]


async def test_a_voice_websocket_cut_without_a_close_frame_resumes(
    bot: Bot, tone_server: ToneServer, record_property: RecordProperty
) -> None:
    # GIVEN a track playing and another queued
    await start_two_tracks(bot, tone_server, TRACK_S)
    ears, sockets = len(bot.fake.ear_reports()), len(voice_sockets(bot))
    with capture_logs(processors=[merge_contextvars]) as logs:
        # WHEN the voice server's TCP connection drops (no close frame: 1006 for the client)
        closed_at = time.monotonic()
        bot.fake.voice.drop_guild(bot.fake.guilds[0].guild_id)
        # THEN the connection is resumed, the track goes on near where it was, the queue follows
        await wait_heard(bot, 660, 1.3)
    gap_s = gap_after(bot, closed_at)
    record_property("gap_s", round(gap_s, 3))
    assert gap_s < MAX_GAP_S, gap_s
    assert_resumed_in_place(bot, ears, sockets, TRACK_S)
    resumed = [e for e in logs if e["event"] == "voice.resumed"]
    assert [e["close_code"] for e in resumed] == [1006], logs


@pytest.mark.parametrize(
    ("heartbeat_ms", "track_s"),
    [pytest.param(1_000, 9.0), pytest.param(13_750, 16.0, marks=LONG)],
    ids=["short-interval", "discord-interval"],
)
async def test_a_voice_gateway_that_stops_acking_heartbeats_is_resumed(
    bot: Bot,
    tone_server: ToneServer,
    heartbeat_ms: int,
    track_s: float,
    record_property: RecordProperty,
) -> None:
    # GIVEN a voice gateway with that heartbeat interval (Discord's is 13.75 s; a short one
    # keeps the CI variant quick), a track playing and one queued
    bot.fake.voice.heartbeat_interval_ms = heartbeat_ms
    await start_two_tracks(bot, tone_server, track_s)
    ears, sockets = len(bot.fake.ear_reports()), len(voice_sockets(bot))
    stalled = voice_sockets(bot)[-1]
    with capture_logs(processors=[merge_contextvars]) as logs:
        # WHEN the voice gateway stops answering heartbeats (the websocket stays open)
        stalled_at = time.monotonic()
        bot.fake.voice.stall_heartbeat_acks(bot.fake.guilds[0].guild_id)
        # THEN the worker notices, resumes on a new websocket, and playback goes on
        await wait_heard(bot, 660, 1.3)
    resumes = [e for e in logs if e["event"] == "voice.resuming"]
    assert len(resumes) == 1, logs
    assert resumes[0]["reason"] == "heartbeat_stall", resumes
    noticed_s = resumes[0]["silent_s"]
    record_property("noticed_after_s", noticed_s)
    assert noticed_s <= stall_noticed_within_s(heartbeat_ms), noticed_s
    voice_events = [e["event"] for e in logs if e["event"].startswith("voice.")]
    assert voice_events == ["voice.resuming", "voice.resumed"], voice_events
    gap_s = gap_after(bot, stalled_at)
    record_property("gap_s", round(gap_s, 3))
    assert gap_s < MAX_GAP_S, gap_s
    assert_resumed_in_place(bot, ears, sockets, track_s)
    assert not stalled.open
    # the new websocket is acknowledged again: it kept heartbeating
    assert voice_sockets(bot)[-1].heartbeats >= 1
