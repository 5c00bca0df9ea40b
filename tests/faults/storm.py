"""A play/skip storm on some guilds while others just listen: the scenario behind
tests/faults/test_worker_storm.py (CI size) and bench/load_worker.py (bigger, JSON figures)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from fake_discord.interactions import InteractionRecord
from tests.e2e.conftest import Bot, reply_of
from tests.fixtures_audio import ToneServer

LISTEN_TRACK_S = 14.0
RATE_LIMITED = "going a bit fast"
STORM_TRACK_S = 1.0


def _answered(record: InteractionRecord) -> bool:
    original = record.original
    loading = original is not None and int(original.get("flags", 0)) & (1 << 7)
    return bool(record.followups) or bool(
        original is not None and not loading and original.get("content")
    )


@dataclass
class StormResult:
    """What happened, for assertions and for the bench's JSON."""

    commands_sent: int
    answered: int
    answer_latency_s: list[float]
    jobs_succeeded: int
    jobs_failed: int
    jobs_duplicate: int
    listeners: list[dict[str, Any]]
    replies: dict[str, list[str]]

    @property
    def rate_limited(self) -> int:
        """Commands the front door refused (per-user rate limit): answered, never enqueued."""
        return sum(RATE_LIMITED in reply for replies in self.replies.values() for reply in replies)

    def figures(self) -> dict[str, Any]:
        """A JSON-able summary."""
        latencies = sorted(self.answer_latency_s)
        return {
            "commands_sent": self.commands_sent,
            "answered": self.answered,
            "rate_limited": self.rate_limited,
            "answer_latency_s": {
                "p50": round(latencies[len(latencies) // 2], 3) if latencies else None,
                "max": round(latencies[-1], 3) if latencies else None,
            },
            "jobs_succeeded": self.jobs_succeeded,
            "jobs_failed": self.jobs_failed,
            "jobs_duplicate": self.jobs_duplicate,
            "listeners": self.listeners,
        }


def burst(n: int, tone_server: ToneServer, base_hz: int) -> list[tuple[str, dict[str, Any]]]:
    """n commands: plays of short distinct tones with a skip after every second one."""
    commands: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        if i % 3 == 2:
            commands.append(("skip", {}))
        else:
            commands.append(("play", {"query": tone_server.url(base_hz + 10 * i, STORM_TRACK_S)}))
    return commands


async def run_storm(
    bot: Bot, tone_server: ToneServer, *, listeners: int, stormers: int, per_guild: int
) -> StormResult:
    """Guilds [0, listeners) play one long tone each; the rest get ``per_guild`` commands fast."""
    guilds = [g.guild_id for g in bot.fake.guilds]
    assert len(guilds) >= listeners + stormers
    for guild in guilds:
        bot.fake.move_user(guild)
    listen_hz = {guild: 300 + 40 * i for i, guild in enumerate(guilds[:listeners])}
    for guild, hz in listen_hz.items():
        await bot.command("play", guild=guild, query=tone_server.url(hz, LISTEN_TRACK_S))
    for guild, hz in listen_hz.items():
        await bot.hear(hz, 0.5, guild=guild)
    storm_guilds = guilds[listeners : listeners + stormers]
    # Generate the storm's tones now: the burst should measure the worker, not ffmpeg making files.
    for i in range(per_guild):
        tone_server.file(2000 + 10 * i, STORM_TRACK_S)

    async def storm(guild: str) -> list[tuple[InteractionRecord, float]]:
        sent = []
        for name, options in burst(per_guild, tone_server, 2000):
            record = await bot.fake.send_interaction(
                name=name, guild=guild, options=options or None
            )
            sent.append((record, time.monotonic()))
        return sent

    batches = await asyncio.gather(*(storm(guild) for guild in storm_guilds))

    async def answer(record: InteractionRecord, sent_at: float) -> tuple[str, float]:
        done = await bot.fake.wait_for_interaction(record.id, _answered, timeout_s=60)
        return reply_of(done), time.monotonic() - sent_at

    # Waited for all at once, so each latency ends when that answer arrived.
    answers = await asyncio.gather(
        *(answer(record, sent_at) for batch in batches for record, sent_at in batch)
    )
    latencies = [latency for _, latency in answers]
    replies: dict[str, list[str]] = {}
    position = 0
    for guild, batch in zip(storm_guilds, batches, strict=True):
        replies[guild] = [text for text, _ in answers[position : position + len(batch)]]
        position += len(batch)
    answered = len(answers)
    heard = []
    for guild, hz in listen_hz.items():
        await bot.wait_silent(guild=guild, quiet_s=0.5)
        report = bot.fake.ear_report(guild)
        assert report is not None
        heard.append(
            {
                "guild": guild,
                "seconds_at_tone": round(report.seconds_at(hz), 2),
                "audible_stretches": len(report.audible_timeline(min_duration_s=0.1)),
                "lost": report.lost,
                "sequence_gaps": len(report.sequence_gaps),
                "interarrival_mean_ms": report.interarrival_mean_ms,
                "interarrival_max_ms": report.interarrival_max_ms,
                "interarrival_p99_abs_dev_ms_steady": report.interarrival_p99_abs_dev_ms_steady,
            }
        )
    counters = bot.worker.counters
    return StormResult(
        commands_sent=sum(len(b) for b in batches),
        answered=answered,
        answer_latency_s=latencies,
        jobs_succeeded=counters.jobs_succeeded,
        jobs_failed=counters.jobs_failed,
        jobs_duplicate=counters.jobs_duplicate,
        listeners=heard,
        replies=replies,
    )
