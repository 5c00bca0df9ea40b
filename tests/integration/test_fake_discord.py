"""The fake Discord driven by a plain discord.py 2.7 client: login, gateway, voice, audio.

GIVEN a started fake and discord.py pointed at it by configuration (never by editing it),
WHEN discord.py does what a music bot does, THEN the fake behaves like Discord and its ear
reports exactly what was played.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

with warnings.catch_warnings():
    # discord.py 2.7 imports audioop, deprecated since Python 3.11; warnings are errors here.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
from discord.http import Route

from fake_discord.server import FakeDiscord
from tests.fixtures_fake_discord import start_discord_client, stop_discord_client

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def _encode(path: Path, tones: list[tuple[int, float]]) -> Path:
    inputs: list[str] = []
    for freq, seconds in tones:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}"]
    concat = "".join(f"[{i}:a]" for i in range(len(tones))) + f"concat=n={len(tones)}:v=0:a=1"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            concat,
            "-ac",
            "2",
            "-ar",
            "48000",
            "-c:a",
            "libopus",
            "-b:a",
            "96k",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Ogg/Opus files: a 4 s 440 Hz tone, and 2 s of 880 Hz followed by 2 s of 660 Hz."""
    folder = tmp_path_factory.mktemp("fake-discord-tones")
    yield {
        "440": _encode(folder / "440.ogg", [(440, 4)]),
        "880-660": _encode(folder / "880-660.ogg", [(880, 2), (660, 2)]),
    }


class FFmpegOpusAudio(discord.FFmpegOpusAudio):
    """discord.py's source, closing ffmpeg's pipes on cleanup.

    discord.py 2.7.1 kills ffmpeg but drops its stdout pipe unclosed, which is a
    ResourceWarning (an error under this suite's filterwarnings) when it is collected.
    """

    def cleanup(self) -> None:
        process = self._process  # MISSING after a first cleanup (AudioSource.__del__ repeats it)
        super().cleanup()
        for name in ("stdout", "stdin", "stderr"):
            pipe = getattr(process, name, None)
            if pipe is not None:
                pipe.close()


async def _play(voice: discord.VoiceClient, source: discord.AudioSource) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    errors: list[Exception | None] = []

    def after(error: Exception | None) -> None:
        errors.append(error)
        loop.call_soon_threadsafe(done.set)

    voice.play(source, after=after)
    await asyncio.wait_for(done.wait(), 30)
    assert errors == [None]


def _assert_responses_match_spec(fake: FakeDiscord) -> None:
    """Every successful JSON answer the fake gave conforms to Discord's response schemas."""
    for request in fake.requests:
        if request.operation_id and request.status == 200:
            problems = fake.core.spec.validate_response(
                request.operation_id, request.status, request.response
            )
            assert problems == [], (request.operation_id, problems[:5])


async def _join(fake: FakeDiscord, client: discord.Client) -> discord.VoiceClient:
    seeded = fake.guilds[0]
    channel = client.get_channel(int(seeded.voice_channel_id))
    assert isinstance(channel, discord.VoiceChannel)
    voice: discord.VoiceClient = await channel.connect(timeout=15)
    assert isinstance(voice, discord.VoiceClient)
    return voice


async def test_discord_py_plays_a_440_hz_tone_and_the_ear_hears_it(
    discord_py_pointed: FakeDiscord,
    fake_discord_client: discord.Client,
    tones: dict[str, Path],
) -> None:
    fake, client = discord_py_pointed, fake_discord_client
    seeded = fake.guilds[0]
    # GIVEN the listener is in the voice channel (the bot's cache learns it from the gateway)
    fake.move_user(seeded.guild_id)
    await asyncio.sleep(0.1)
    guild = client.get_guild(int(seeded.guild_id))
    assert guild is not None
    member = guild.get_member(int(seeded.user_id))
    assert member is not None and member.voice is not None
    assert member.voice.channel is not None and member.voice.channel.id == int(
        seeded.voice_channel_id
    )

    # WHEN the bot joins and plays 4 s of 440 Hz through FFmpegOpusAudio (re-encoded by ffmpeg)
    voice = await _join(fake, client)
    assert voice.mode == "aead_xchacha20_poly1305_rtpsize"
    bot_state = fake.bot_voice_state(seeded.guild_id)
    assert bot_state is not None and bot_state["channel_id"] == seeded.voice_channel_id
    started = time.monotonic()
    await _play(voice, FFmpegOpusAudio(str(tones["440"])))
    await voice.disconnect()
    await fake.wait_for_bot_voice(seeded.guild_id, connected=False, timeout_s=5)

    # THEN the ear heard about 4 s of 440 Hz, with no gaps, duplicates or decryption errors
    report = fake.ear_report(seeded.guild_id)
    assert report is not None
    assert report.mode == "aead_xchacha20_poly1305_rtpsize"
    assert report.dominant_frequency_hz is not None
    assert abs(report.dominant_frequency_hz - 440) <= 5
    assert 3.7 <= report.seconds_at(440) <= 4.3
    assert report.lost == 0 and report.duplicates == 0 and report.sequence_gaps == []
    assert report.decrypt_failures == 0 and report.decode_failures == 0
    assert report.timestamp_jumps == 0 and report.nonce_regressions == 0
    assert report.interarrival_mean_ms is not None and 15 < report.interarrival_mean_ms < 25
    assert report.first_packet_monotonic is not None and report.first_packet_monotonic > started
    fake.assert_no_failures()
    _assert_responses_match_spec(fake)


async def test_tone_segments_are_reported_as_a_timeline(
    discord_py_pointed: FakeDiscord,
    fake_discord_client: discord.Client,
    tones: dict[str, Path],
) -> None:
    fake = discord_py_pointed
    voice = await _join(fake, fake_discord_client)
    # from_probe passes the Ogg/Opus through untouched (no re-encode)
    source = await FFmpegOpusAudio.from_probe(str(tones["880-660"]))
    await _play(voice, source)
    await voice.disconnect()

    report = fake.ear_report(0)
    assert report is not None
    audible = report.audible_timeline(min_duration_s=1.0)
    assert [round(s.frequency_hz or 0) for s in audible] == [880, 660]
    assert abs(audible[0].duration_s - 2.0) <= 0.5 and abs(audible[1].duration_s - 2.0) <= 0.5
    assert report.seconds_at(880) >= 1.5 and report.seconds_at(660) >= 1.5
    assert report.lost == 0
    # discord.py sends the Ogg header packets (OpusHead, OpusTags) as audio: counted apart
    assert report.ogg_header_packets == 2
    fake.assert_no_failures()


async def test_rate_limit_429_is_honoured_by_discord_py(
    discord_py_pointed: FakeDiscord,
) -> None:
    fake = discord_py_pointed
    channel_id = fake.guilds[0].text_channel_id
    fault = fake.add_fault(429, method="POST", path="/channels/*/messages", retry_after_s=0.5)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(fake.bot_token)
    try:
        started = time.monotonic()
        message = await client.http.request(
            Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id),
            json={"content": "hello after a rate limit"},
        )
        elapsed = time.monotonic() - started
    finally:
        await client.close()
    assert message["content"] == "hello after a rate limit"
    assert elapsed >= 0.5  # discord.py slept retry_after before retrying
    assert fault.hits == 1
    posts = [r for r in fake.requests if r.operation_id == "create_message"]
    assert [r.status for r in posts] == [429, 200]
    assert posts[0].fault == fault.id
    assert [m["content"] for m in fake.channel_messages(channel_id)] == ["hello after a rate limit"]
    fake.assert_no_failures()


async def test_gateway_interaction_reaches_discord_py_and_its_responses_reach_the_fake(
    discord_py_pointed: FakeDiscord,
    fake_discord_client: discord.Client,
) -> None:
    fake, client = discord_py_pointed, fake_discord_client
    seen: list[discord.Interaction[Any]] = []

    async def on_interaction(interaction: discord.Interaction[Any]) -> None:
        seen.append(interaction)
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="Queued: test tone")

    client.event(on_interaction)
    record = await fake.send_interaction("command", name="play", options={"query": "tone"})
    assert record.delivered_via == "gateway"

    done = await fake.wait_for_original(record.id, content="Queued: test tone", timeout_s=10)
    assert done.initial_response == {"type": 5}
    assert done.initial_response_via == "callback"
    interaction = seen[0]
    assert interaction.id == int(record.id)
    assert interaction.guild_id == int(fake.guilds[0].guild_id)
    assert interaction.data is not None and interaction.data.get("name") == "play"
    assert interaction.user.id == int(fake.guilds[0].user_id)
    fake.assert_no_failures()


async def test_identify_with_a_wrong_token_is_closed_4004(fake_discord: FakeDiscord) -> None:
    url = fake_discord.gateway_url + "?v=10&encoding=json"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json(
            {
                "op": 2,
                "d": {
                    "token": "not-the-token",
                    "intents": 129,
                    "properties": {"os": "linux", "browser": "x", "device": "x"},
                },
            }
        )
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4004
    assert [f.reason for f in fake_discord.failures] == ["identify with a wrong token"]


async def test_login_with_a_wrong_token_fails_like_discord(
    discord_py_pointed: FakeDiscord,
) -> None:
    client = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("MTIz.bad.token")
    await client.close()


async def test_bot_kicked_from_voice_gets_a_null_voice_state(
    discord_py_pointed: FakeDiscord,
) -> None:
    fake = discord_py_pointed
    client, task = await start_discord_client(fake)
    try:
        voice = await _join(fake, client)
        assert voice.is_connected()
        disconnected = asyncio.Event()

        async def on_voice_state_update(member: discord.Member, before: Any, after: Any) -> None:
            if member.id == client.user.id and after.channel is None:
                disconnected.set()

        client.event(on_voice_state_update)
        fake.disconnect_bot(0)
        await asyncio.wait_for(disconnected.wait(), 10)
        await asyncio.sleep(0.2)  # discord.py tears the voice client down in a task
        assert not voice.is_connected()
        assert fake.bot_voice_state(0) is None
    finally:
        await stop_discord_client(client, task)


async def test_reconnect_request_is_resumed_with_replay(
    discord_py_pointed: FakeDiscord,
    fake_discord_client: discord.Client,
) -> None:
    fake, client = discord_py_pointed, fake_discord_client
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    client.event(on_resumed)
    (session,) = fake.gateway.live_sessions()
    fake.gateway.request_reconnect()  # opcode 7: discord.py closes and RESUMEs
    await asyncio.wait_for(resumed.wait(), 10)
    assert fake.gateway.live_sessions() == [session]
    assert len(fake.core.identify_times) == 1  # resumed, not re-identified
    # events keep flowing on the resumed session
    fake.move_user(0)
    seeded = fake.guilds[0]
    await fake.core.changes.wait_for(lambda: session.connection is not None, 5)
    await asyncio.sleep(0.2)
    guild = client.get_guild(int(seeded.guild_id))
    member = guild.get_member(int(seeded.user_id)) if guild else None
    assert member is not None and member.voice is not None
    fake.assert_no_failures()
