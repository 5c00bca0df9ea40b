"""Replayed signed requests are harmless, and refused guilds get nothing done for them."""

from __future__ import annotations

import asyncio
import copy
import json

import aiohttp
import pytest

from fake_discord.delivery import signed_headers
from interactions.app import SOMETHING_WENT_WRONG
from tests.e2e.conftest import (  # noqa: F401 - fixtures used by the end-to-end replay test
    Bot,
    bot,
    no_secrets_in_logs,
    reply_of,
    start_bot,
    started_fakes,
)
from tests.fixtures_audio import ToneServer
from tests.fixtures_interactions import DoorFactory, Signer, encode, payload, with_options

EPHEMERAL = 64
OTHER_GUILDS = frozenset({"42", "1300000000000000999"})


def _requests() -> dict[str, dict[str, object]]:
    play = with_options(payload("play"), query="never gonna give you up")
    play_next = with_options(payload("play"), query="https://example.com/a.webm", next=True)
    skip = payload("skip")
    button = payload("button")
    autocomplete = payload("play_autocomplete")
    return {
        "play": play,
        "play_next": play_next,
        "skip": skip,
        "button": button,
        "autocomplete": autocomplete,
        **{
            name: {**copy.deepcopy(skip), "data": {**skip["data"], "name": name}}
            for name in ("stop", "pause", "resume", "leave", "queue", "nowplaying", "help")
        },
    }


REQUESTS = _requests()


@pytest.mark.parametrize("name", ["play", "play_next", "skip", "button", "stop", "leave"])
async def test_a_replayed_request_enqueues_its_job_once(
    make_door: DoorFactory, signer: Signer, name: str
) -> None:
    # GIVEN one captured, correctly signed request
    door = await make_door()
    body = encode(REQUESTS[name])
    headers = signer.headers(body)
    # WHEN an attacker (or a retrying proxy) replays it five times
    answers = [await door.post(body, headers) for _ in range(5)]
    # THEN every copy gets the same polite answer, and one job is queued, keyed by the interaction
    assert len({json.dumps(a.body) for a in answers}) == 1
    assert all(a.status == 200 for a in answers)
    jobs = await door.jobs()
    assert [job.job_id for job in jobs] == [REQUESTS[name]["id"]]


@pytest.mark.parametrize("name", sorted(REQUESTS))
async def test_a_guild_off_the_allowlist_gets_nothing_done(
    make_door: DoorFactory, signer: Signer, name: str
) -> None:
    # GIVEN an allowlist without the guild
    door = await make_door(guild_allowlist=OTHER_GUILDS)
    body = encode(REQUESTS[name])
    # WHEN any command, button or autocomplete arrives from it
    answer = await door.post(body, signer.headers(body))
    # THEN a refusal (ephemeral message, or no suggestions), and nothing on the queue
    assert answer.status == 200
    if answer.body["type"] == 8:
        assert answer.body["data"]["choices"] == []
    else:
        assert answer.body["type"] == 4 and answer.body["data"]["flags"] == EPHEMERAL
        assert "isn't enabled for this server" in answer.body["data"]["content"]
    assert SOMETHING_WENT_WRONG not in json.dumps(answer.body)
    assert await door.jobs() == []


@pytest.mark.e2e
async def test_a_replayed_play_never_plays_the_track_twice(
    bot: Bot,  # noqa: F811 - the fixture imported above
    tone_server: ToneServer,
) -> None:
    # GIVEN a /play that was answered and is being heard
    record = await bot.command("play", query=tone_server.url(440, 1.5))
    assert reply_of(record).startswith("Now playing")
    await bot.hear(440, 0.3)
    # WHEN the exact signed request is replayed twice, during and after the track
    body = json.dumps(record.payload, separators=(",", ":")).encode()
    url = bot.fake.interactions_url
    assert url is not None
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            headers = signed_headers(bot.fake.core, body)
            async with session.post(url, data=body, headers=headers) as response:
                statuses.append(response.status)
            await bot.wait_silent(quiet_s=1.0)
    # A replayed job would start within this time (the first one did in well under a second).
    await asyncio.sleep(1.5)
    report = bot.fake.ear_report()
    assert report is not None
    # THEN the front door answers calmly, and the ear heard the track exactly once
    assert statuses == [200, 200]
    assert report.seconds_at(440) == pytest.approx(1.5, abs=0.25)
    assert len(report.audible_timeline(min_duration_s=0.1)) == 1
    assert bot.worker.counters.jobs_succeeded == 1
    bot.fake.assert_no_failures()
