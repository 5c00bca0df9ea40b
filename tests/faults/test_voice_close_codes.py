"""The voice websocket closed by Discord mid-track, with each kind of close code.

Policy (voice_worker/voice_connection.py, docs/operations.md "Voice closes"):
resumable (4015 voice server crashed, 4000 and other unknown codes): RESUME on a new websocket;
when Discord refuses the resume (the session is gone), or on 4006 / 4009 (a new voice session
is needed), the session rejoins the same channel and resumes the track from its position.
Either way the track goes on near where it was and the queue is kept.
Ended (4014 kicked or channel deleted, 4021 rate limited, 4022 call terminated): the session
ends, its queue stays in the store, the text channel is told once, and the next /play is
answered at once and brings the kept queue back.

4015, 4006 and 4014 run in CI; the other codes are the long variant (LONG_FAULTS=1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.e2e.conftest import Bot, reply_of
from tests.fixtures_audio import ToneServer
from voice_worker.voice_recovery import VOICE_LOST_NOTICE

pytestmark = [pytest.mark.e2e]
LONG = pytest.mark.slow  # nightly-style (LONG_FAULTS=1, `make fuzz-long`)

# The record_property fixture (a figure in the JUnit XML report); pytest exports no type for it.
RecordProperty = Callable[[str, object], None]

TRACK_S = 6.0
RECOVERY_S = 25.0
# A listener hears the track resume within this long after the close.
MAX_GAP_S = 5.0


def close_voice(bot: Bot, code: int, *, keep_session: bool) -> float:
    """Close the guild's voice websocket like Discord does (keep_session: a resume can work);
    return when (monotonic)."""
    guild_id = bot.fake.guilds[0].guild_id
    closed_at = time.monotonic()
    if not keep_session:
        bot.fake.voice.close_guild(guild_id, code)
        return closed_at
    for connection in bot.fake.voice.connections.get(guild_id, []):
        if connection.open:
            connection.open = False
            connection.conn.close(code)
    return closed_at


def seconds_heard(bot: Bot, frequency: float) -> float:
    """Over every voice connection the guild had (a rejoin starts a new one)."""
    return sum(report.seconds_at(frequency) for report in bot.fake.ear_reports())


def gap_after(bot: Bot, closed_at: float) -> float:
    """Silence the listener heard from the close to the next packet (any connection)."""
    reports = bot.fake.ear_reports()
    later = [
        r.first_packet_monotonic
        for r in reports
        if r.first_packet_monotonic is not None and r.first_packet_monotonic > closed_at
    ]
    if later:
        return min(later) - closed_at
    # Resumed: the same media (and ear) goes on; its longest silence is the gap.
    return max((r.interarrival_max_ms or 0.0) for r in reports) / 1000


async def wait_heard(bot: Bot, frequency: float, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY_S
    while seconds_heard(bot, frequency) < seconds:
        if loop.time() > deadline:
            timelines = [r.to_json()["timeline"] for r in bot.fake.ear_reports()]
            raise AssertionError(
                f"{frequency} Hz heard {seconds_heard(bot, frequency)} s: {timelines}"
            )
        await asyncio.sleep(0.1)


async def wait_notices(bot: Bot) -> list[str]:
    """The voice-lost notices in the text channel (waits for the first one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY_S

    def notices() -> list[str]:
        return [
            str(m.get("content"))
            for m in bot.fake.channel_messages()
            if m.get("content") == VOICE_LOST_NOTICE
        ]

    while not notices():
        if loop.time() > deadline:
            raise AssertionError(f"no notice: {bot.fake.channel_messages()}")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # a second notice (e.g. from the kick's VOICE_STATE_UPDATE) lands
    return notices()


@pytest.mark.parametrize(
    ("code", "keep_session"),
    [
        pytest.param(4015, True),
        pytest.param(4000, True, marks=LONG),
        pytest.param(4000, False, marks=LONG),
        pytest.param(4006, False),
        pytest.param(4009, False, marks=LONG),
    ],
    ids=["4015-resume", "4000-resume", "4000-refused-rejoin", "4006-rejoin", "4009-rejoin"],
)
async def test_playback_survives_a_voice_close(
    bot: Bot,
    tone_server: ToneServer,
    code: int,
    keep_session: bool,
    record_property: RecordProperty,
) -> None:
    # GIVEN a track playing and another queued
    await bot.command("play", query=tone_server.url(440, TRACK_S))
    queued = await bot.command("play", query=tone_server.url(660, 1.5))
    assert "Queued" in reply_of(queued)
    await bot.hear(440, 1.0)
    connections = len(bot.fake.ear_reports())
    # WHEN Discord closes the voice websocket
    closed_at = close_voice(bot, code, keep_session=keep_session)
    # THEN the track goes on near where it was (not from its start) and the queued one follows
    await wait_heard(bot, 660, 1.3)
    heard_440 = seconds_heard(bot, 440)
    assert TRACK_S - 2.5 <= heard_440 <= TRACK_S + 1.0, heard_440
    gap_s = gap_after(bot, closed_at)
    record_property("gap_s", round(gap_s, 3))
    assert gap_s < MAX_GAP_S, gap_s
    # a resume keeps the connection (and its ear); a rejoin negotiates a new one
    rejoined = len(bot.fake.ear_reports()) > connections
    assert rejoined == (not keep_session), bot.fake.ear_reports()
    assert bot.fake.bot_voice_state() is not None
    assert bot.worker.counters.jobs_succeeded == 2
    assert not [m for m in bot.fake.channel_messages() if m.get("content") == VOICE_LOST_NOTICE]


@pytest.mark.parametrize(
    "code",
    [pytest.param(4014), pytest.param(4021, marks=LONG), pytest.param(4022, marks=LONG)],
    ids=["4014-kicked", "4021-rate-limited", "4022-call-terminated"],
)
async def test_an_ended_voice_connection_keeps_the_queue_and_says_so(
    bot: Bot, tone_server: ToneServer, code: int, record_property: RecordProperty
) -> None:
    # GIVEN a track playing and another queued
    guild_id = bot.fake.guilds[0].guild_id
    await bot.command("play", query=tone_server.url(440, TRACK_S))
    await bot.command("play", query=tone_server.url(660, 1.5))
    await bot.hear(440, 1.0)
    # WHEN Discord ends the voice connection for good
    if code == 4014:
        bot.fake.disconnect_bot()  # a moderator: VOICE_STATE_UPDATE without channel, 4014
    else:
        close_voice(bot, code, keep_session=False)
    # THEN the channel is told once, the session is gone and its queue is in the store
    assert len(await wait_notices(bot)) == 1
    sessions = bot.worker.sessions
    assert sessions is not None
    assert sessions.get(guild_id) is None
    kept = await bot.worker.store.load(guild_id)
    assert kept is not None
    assert kept.now_playing is not None and "/tone/440-" in kept.now_playing.track.ref.webpage_url
    assert [t.ref.webpage_url.rsplit("/", 1)[-1] for t in kept.queue] == ["660-1.5.webm"]
    # and the next /play is answered at once, plays, and brings the kept queue back
    asked = time.monotonic()
    again = await bot.command("play", query=tone_server.url(880, 1.0))
    record_property("next_play_answer_s", round(time.monotonic() - asked, 3))
    assert reply_of(again).startswith("Now playing"), reply_of(again)
    await wait_heard(bot, 880, 0.8)
    session = sessions.get(guild_id)
    assert session is not None
    waiting = [t.ref.webpage_url.rsplit("/", 1)[-1] for t in session.snapshot().queue]
    assert waiting == ["440-6.webm", "660-1.5.webm"], waiting


async def test_without_the_lease_a_dropped_session_is_abandoned_without_opcode_4(
    bot: Bot, tone_server: ToneServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a track playing, and the guild's lease gone to another worker meanwhile
    guild_id = bot.fake.guilds[0].guild_id
    await bot.command("play", query=tone_server.url(440, TRACK_S))
    await bot.hear(440, 1.0)
    sessions = bot.worker.sessions
    assert sessions is not None
    monkeypatch.setattr(sessions._hooks, "may_rejoin", lambda _guild_id: False)
    grant = bot.fake.gateway.voice.grants[guild_id]
    connections = len(bot.fake.ear_reports())
    # WHEN Discord closes the voice session (a rejoin would be needed)
    close_voice(bot, 4006, keep_session=False)
    # THEN the session stops here without touching the bot's voice state (the new owner's)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY_S
    while sessions.get(guild_id) is not None:
        assert loop.time() < deadline, "the session was not abandoned"
        await asyncio.sleep(0.1)
    assert bot.fake.gateway.voice.grants[guild_id] is grant  # no opcode 4 was sent
    assert bot.fake.bot_voice_state() is not None  # nor did it leave
    assert len(bot.fake.ear_reports()) == connections
    assert not [m for m in bot.fake.channel_messages() if m.get("content") == VOICE_LOST_NOTICE]
