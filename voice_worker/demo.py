"""`musicbot demo`: the whole bot offline, against the fake Discord, with no credentials.

It starts the fake Discord, the interactions app under uvicorn (set as the fake's
interactions URL, so every command is a signed HTTP POST as Discord sends it), and a voice
worker pointed at the fake; moves the seeded user into voice, serves two tones from 127.0.0.1,
then sends /play 440 Hz, /play 660 Hz (queued), /skip and /stop, and reports what the fake's
listening ear decoded. Exit 0 when both tones were heard in order, without gaps inside a
track, and the bot left the channel.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from fake_discord.server import FakeDiscord
from interactions.bootstrap import bootstrap
from shared.logs import configure_logging
from shared.queue import InMemoryJobQueue
from shared.settings import Settings, load_settings
from voice_worker.bootstrap import build_tracks
from voice_worker.demo_support import FrontDoorServer, ToneServer, find_gaps, order_heard
from voice_worker.worker import Worker

FIRST_HZ, SECOND_HZ = 440, 660
TONE_S = 3.0
LISTEN_S = 1.5  # how much of each tone to hear before the next command
STEP_TIMEOUT_S = 30.0


@dataclass
class DemoRun:
    """What happened, step by step."""

    commands: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    first_sent: float | None = None

    def say(self, line: str) -> None:
        """Progress for the person watching."""
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def demo_settings(fake: FakeDiscord) -> Settings:
    """Settings pointing every part at the fake (explicit values beat the environment)."""
    return load_settings(
        discord_public_key=fake.public_key,
        discord_application_id=fake.application_id,
        discord_bot_token=fake.bot_token,
        discord_api_base=fake.rest_base_url,
        discord_gateway_url=fake.gateway_url,
        discord_ca_file=fake.ca_file,
        allow_private_sources=True,
        jobs_queue_url="",
        sqlite_path=":memory:",  # nothing outlives a demo (or a test) run
        worker_health_port=0,
        worker_shutdown_grace_s=5.0,
        worker_guild_ready_timeout_s=0.2,
    )


async def _command(fake: FakeDiscord, run: DemoRun, name: str, **options: Any) -> str:
    record = await fake.send_interaction(name=name, options=options or None)
    if run.first_sent is None:
        run.first_sent = record.issued_monotonic
    run.commands.append(name)
    done = await fake.wait_for_interaction(
        record.id,
        lambda r: bool(r.original_content) or bool(r.followups) or bool(r.http_error),
        timeout_s=STEP_TIMEOUT_S,
    )
    reply = done.original_content or (done.followups[-1].get("content") if done.followups else "")
    reply = str(reply or done.http_error)
    run.replies.append(reply)
    run.say(f"  /{name:<5} -> {reply}")
    return reply


async def _wait_heard(fake: FakeDiscord, frequency: int, seconds: float) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        report = fake.ear_report()
        if report is not None and report.seconds_at(frequency) >= seconds:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{frequency} Hz was not heard for {seconds} s")


async def _scenario(fake: FakeDiscord, tones: ToneServer, run: DemoRun) -> None:
    run.say("The seeded user joins the voice channel.")
    fake.move_user()
    await _command(fake, run, "play", query=tones.url(FIRST_HZ, TONE_S))
    await _wait_heard(fake, FIRST_HZ, LISTEN_S)
    run.say(f"  the ear hears {FIRST_HZ} Hz")
    await _command(fake, run, "play", query=tones.url(SECOND_HZ, TONE_S))
    await _command(fake, run, "skip")
    await _wait_heard(fake, SECOND_HZ, LISTEN_S)
    run.say(f"  the ear hears {SECOND_HZ} Hz")
    await _command(fake, run, "stop")
    await fake.wait_for_bot_voice(connected=False, timeout_s=STEP_TIMEOUT_S)
    run.say("  the bot left the voice channel")


def summarise(fake: FakeDiscord, worker: Worker, run: DemoRun) -> dict[str, Any]:
    """The demo's result as one JSON-able dict, with ``ok``."""
    reports = fake.ear_reports()
    report = reports[-1] if reports else None
    tracks = [
        {"frequency_hz": hz, "heard_s": round(report.seconds_at(hz), 2) if report else 0.0}
        for hz in (FIRST_HZ, SECOND_HZ)
    ]
    gaps = find_gaps(report) if report else []
    first_audio = report.first_packet_monotonic if report else None
    ttfa = worker.playback.ttfa_ms
    result: dict[str, Any] = {
        "heard_s": round(sum(r.audible_s for r in reports), 2),
        "dominant_hz": report.dominant_frequency_hz if report else None,
        "gaps": [gap.to_json() for gap in gaps],
        "lost_packets": sum(r.lost for r in reports),
        "ttfa_ms": ttfa[0] if ttfa else None,
        "interaction_to_audio_ms": (
            round((first_audio - run.first_sent) * 1000, 1)
            if first_audio is not None and run.first_sent is not None
            else None
        ),
        "tracks": tracks,
        "order": order_heard(report, (FIRST_HZ, SECOND_HZ)) if report else [],
        "commands": run.commands,
        "replies": run.replies,
        "bot_in_voice": fake.bot_voice_state() is not None,
        "fake_failures": [f"[{f.source}] {f.reason}" for f in fake.failures],
    }
    result["ok"] = bool(
        all(track["heard_s"] >= 1.0 for track in tracks)
        and result["order"] == [FIRST_HZ, SECOND_HZ]
        and not any(gap.within_track for gap in gaps)
        and result["lost_packets"] == 0
        and not result["bot_in_voice"]
        and not result["fake_failures"]
    )
    return result


async def run_demo(*, json_output: bool) -> int:
    """Run the whole demo; return the exit code."""
    run = DemoRun()
    tones = ToneServer()
    await tones.start([(FIRST_HZ, TONE_S), (SECOND_HZ, TONE_S)])
    try:
        async with FakeDiscord() as fake:
            settings = demo_settings(fake)
            queue = InMemoryJobQueue()
            front_door = bootstrap(settings, queue=queue, configure_logs=False)
            server = FrontDoorServer(front_door.app)
            await server.start()
            fake.interactions_url = server.url
            worker = Worker(settings, queue=queue, sources=build_tracks(settings))
            worker_task = asyncio.create_task(worker.run(), name="worker")
            run.say(f"Fake Discord on {fake.rest_base_url}; interactions at {server.url}")
            try:
                await asyncio.wait_for(worker.ready.wait(), STEP_TIMEOUT_S)
                run.say("Worker connected to the fake gateway.")
                await _scenario(fake, tones, run)
            except TimeoutError as exc:
                run.say(f"Demo step timed out: {exc}")
            finally:
                worker.request_stop()
                await worker_task
                await worker.sources.aclose()  # type: ignore[attr-defined]
                await server.stop()
            result = summarise(fake, worker, run)
    finally:
        await tones.stop()
    for track in result["tracks"]:
        run.say(f"Heard {track['frequency_hz']} Hz for {track['heard_s']} s")
    run.say(f"Gaps: {len(result['gaps'])}; time to first audio: {result['ttfa_ms']} ms")
    run.say("Demo OK." if result["ok"] else "Demo FAILED: the audio was not heard as expected.")
    if json_output:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0 if result["ok"] else 1


def main(*, json_output: bool = False) -> int:
    """Entry point of `musicbot demo`."""
    configure_logging(log_format="console", level="WARNING")
    return asyncio.run(run_demo(json_output=json_output))
