"""Discord's REST API answering 429 or 5xx for a while: playback goes on, replies arrive late or
are given up with a log line, and no queued track is lost."""

from __future__ import annotations

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from tests.e2e.conftest import Bot, reply_of
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e

WEBHOOKS = "/webhooks/*"
CHANNEL_MESSAGES = "/channels/*/messages"


async def test_a_burst_of_429s_is_waited_out_and_every_reply_arrives(
    bot: Bot, tone_server: ToneServer
) -> None:
    # GIVEN Discord rate-limiting the follow-up webhook twice in a row
    fault = bot.fake.add_fault(429, path=WEBHOOKS, times=2, retry_after_s=0.5)
    # WHEN a user plays a track
    record = await bot.command("play", query=tone_server.url(440, 1.5))
    # THEN the reply arrives after the waits, and the track is heard
    assert reply_of(record).startswith("Now playing")
    assert fault.hits == 2
    await bot.hear(440, 1.3)
    bot.fake.assert_no_failures()


async def test_webhooks_down_for_a_while_do_not_stop_playback_or_lose_tracks(
    bot: Bot, tone_server: ToneServer
) -> None:
    # GIVEN every follow-up webhook call failing with 503 (Discord's side is down)
    outage = bot.fake.add_fault(503, path=WEBHOOKS, times=None)
    # Job fields reach log lines through contextvars, as configured in production.
    with capture_logs(processors=[merge_contextvars]) as logs:
        # WHEN two tracks are requested during the outage
        first = await bot.fake.send_interaction(
            name="play", options={"query": tone_server.url(440, 1.5)}
        )
        second = await bot.fake.send_interaction(
            name="play", options={"query": tone_server.url(660, 1.5)}
        )
        assert (first.http_status, second.http_status) == (200, 200)
        # THEN both are played in order although no reply could be delivered
        report = await bot.hear(660, 1.3)
    heard = [round(s.frequency_hz or 0) for s in report.audible_timeline(min_duration_s=0.3)]
    assert heard == [440, 660]
    assert outage.hits >= 2
    # The operator sees each reply given up, after bounded retries, with the job bound.
    gave_up = [line for line in logs if line["event"] == "report.gave_up"]
    assert gave_up and all(line.get("job_id") for line in gave_up), logs
    assert bot.worker.counters.jobs_succeeded == 2
    # WHEN Discord recovers THEN the next command is answered as usual
    bot.fake.clear_faults()
    skipped = await bot.command("play", query=tone_server.url(880, 1.0))
    assert reply_of(skipped).startswith("Now playing")
    await bot.hear(880, 0.8)


async def test_channel_messages_failing_do_not_stop_the_next_track(
    bot: Bot, tone_server: ToneServer
) -> None:
    # GIVEN the channel (bot-token) messages answering 500 and 429 for a while
    errors = bot.fake.add_fault(500, method="POST", path=CHANNEL_MESSAGES, times=4)
    await bot.command("play", query=tone_server.url(440, 1.0))
    await bot.command("play", query=tone_server.url(660, 1.0))
    # WHEN the first track ends and the second is announced with the bot token
    report = await bot.hear(660, 0.8)
    # THEN the second track plays on time whatever the announcement's fate
    heard = [round(s.frequency_hz or 0) for s in report.audible_timeline(min_duration_s=0.3)]
    assert heard == [440, 660]
    assert errors.hits >= 1
