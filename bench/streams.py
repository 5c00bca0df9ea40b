"""Streams per worker: N guilds playing at once in one bot process, N stepped up.

For each series (a bot and a source format) a fresh fake Discord (``--no-decode``: the ear
counts, decrypts and times every packet but skips Opus decoding, so it does not starve the bot
on a 2-core machine) and a fresh bot process start; guilds are added step by step (joins paced
under the gateway's 120 events/min), and at each step, once every stream plays, the ears are
reset and the bot's process tree (bot + ffmpeg children) is sampled over a window:

- ``cpu_s_per_audio_s``: CPU seconds of the tree per second of audio delivered;
- ``rss_mb``/``pss_mb`` of the tree, and ``*_per_stream_mb`` above the idle bot;
- ``p99_dev_ms_*``: each guild's p99 |inter-arrival - 20 ms| at the ear (kernel timestamps),
  then the median / 90th percentile / max over guilds;
- ``lost``: RTP sequence gaps; ``behind_ms_max``: how far a stream fell behind real time.

Stepping stops after a step whose pacing or CPU is past any use (see ``_saturated``).

Run: ``.venv/bin/python bench/streams.py [--quick]`` (prints JSON); bench/run_all.py calls it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    BotProcess,
    FakeProcess,
    JoinPacer,
    ToneFiles,
    cpu_seconds_between,
    median,
    percentile,
    sample_tree,
    udp_drops,
)

FRAME_S = 0.02
PACING_GOAL_MS = 5.0
SETTLE_S = 3.0


@dataclass(frozen=True)
class Series:
    """One line of the plot: which bot plays which kind of source."""

    name: str
    bot: str  # "ours" | "ours-ffmpeg" | "ours-ffmpeg-paced" | "baseline"
    fmt: str  # tone container: webm/ogg (Opus, passthrough) or mp3/m4a (transcode)
    style: str  # baseline only: "opus" (FFmpegOpusAudio.from_probe) or "pcm" (FFmpegPCMAudio)

    @property
    def transcode(self) -> bool:
        """Whether the source needs transcoding."""
        return self.fmt in ("mp3", "m4a")


SERIES = (
    Series("ours_passthrough", "ours", "webm", "opus"),
    # The same worker with the player as it was (ffmpeg + a thread per guild): before/after.
    Series("ours_ffmpeg_passthrough", "ours-ffmpeg", "webm", "opus"),
    Series("baseline_passthrough", "baseline", "webm", "opus"),
    Series("ours_transcode", "ours", "mp3", "opus"),
    # The same worker encoding in an ffmpeg child per stream (WORKER_AUDIO_IN_PROCESS=false).
    Series("ours_ffmpeg_transcode", "ours-ffmpeg-paced", "mp3", "opus"),
    Series("baseline_transcode", "baseline", "mp3", "pcm"),
)


def _saturated(step: dict[str, Any]) -> bool:
    """Past the point where more streams can tell anything: stop stepping up."""
    p99 = step.get("p99_dev_ms_median")
    return (
        not step["all_playing"]
        or p99 is None
        or p99 > 4 * PACING_GOAL_MS
        or step["lost_fraction"] > 0.01
        or step["cpu_cores"] + step["fake_cpu_cores"] > 0.95 * (os.cpu_count() or 1)
    )


async def _wait_playing(
    bot: BotProcess, fake: FakeProcess, guild_ids: list[str], timeout_s: float
) -> tuple[bool, int]:
    """Wait until the bot reports every stream playing and every ear has packets."""
    deadline = time.monotonic() + timeout_s
    playing = 0
    while time.monotonic() < deadline:
        status = await bot.call({"op": "status"})
        playing = int(status["playing"])
        if playing >= len(guild_ids):
            ears = await fake.ears(guild_ids)
            if all(e is not None and e["packets"] > 0 for e in ears):
                return True, playing
        await asyncio.sleep(1.0)
    return False, playing


async def _start_streams(
    series: Series,
    *,
    bot: BotProcess,
    fake: FakeProcess,
    tones: ToneFiles,
    tone_name: str,
    guilds: list[dict[str, Any]],
    pacer: JoinPacer,
) -> None:
    await fake.move_users([g["guild_id"] for g in guilds])
    todo = list(guilds)
    while todo:
        granted = await pacer.take(len(todo))
        batch, todo = todo[:granted], todo[granted:]
        items = []
        for guild in batch:
            url = tones.url(tone_name, tag=f"{series.name}-{guild['guild_id']}")
            item = {
                "guild_id": guild["guild_id"],
                "text_channel_id": guild["text_channel_id"],
                "voice_channel_id": guild["voice_channel_id"],
                "user_id": guild["user_id"],
                "url": url,
                "style": series.style,
            }
            if series.bot.startswith("ours"):
                record = await fake.deferred_interaction(guild["guild_id"], url)
                item |= {"interaction_id": record["id"], "token": record["token"]}
            items.append(item)
        await bot.call({"op": "play", "items": items})


def _step_figures(
    n: int,
    *,
    bot_pid: int,
    window_s: float,
    before: Any,
    after: Any,
    fake_before: Any,
    fake_after: Any,
    idle: Any,
    ears: list[dict[str, Any] | None],
) -> dict[str, Any]:
    elapsed = after.at - before.at
    cpu = cpu_seconds_between(before, after)
    fake_cpu = cpu_seconds_between(fake_before, fake_after)
    # The bot's own process apart from its children (ffmpeg): where transcoding's CPU goes.
    own_cpu = cpu_seconds_between(before, after, only_pid=bot_pid)
    reports = [e for e in ears if e is not None and e["packets"] > 1]
    p99s = [
        e["interarrival_p99_abs_dev_ms"]
        for e in reports
        if e["interarrival_p99_abs_dev_ms"] is not None
    ]
    packets = sum(e["packets"] for e in reports)
    lost = sum(e["lost"] for e in reports)
    behind = [
        max(
            0.0,
            (e["last_packet_monotonic"] - e["first_packet_monotonic"]) * 1000
            - (e["packets"] + e["lost"] - 1) * FRAME_S * 1000,
        )
        for e in reports
    ]
    audio_s = packets * FRAME_S
    return {
        "streams": n,
        "window_s": round(elapsed, 2),
        "ears_with_audio": len(reports),
        "cpu_cores": round(cpu / elapsed, 3),
        "bot_process_cpu_cores": round(own_cpu / elapsed, 3),
        "cpu_s_per_audio_s": round(cpu / audio_s, 5) if audio_s else None,
        "streams_per_vcpu": round(n / (cpu / elapsed), 1) if cpu > 0 else None,
        "processes": after.processes,
        "rss_mb": round(after.rss_kb / 1024, 1),
        "pss_mb": round(after.pss_kb / 1024, 1),
        "rss_per_stream_mb": round((after.rss_kb - idle.rss_kb) / 1024 / n, 2),
        "pss_per_stream_mb": round((after.pss_kb - idle.pss_kb) / 1024 / n, 2),
        "p99_dev_ms_median": _round(median(p99s)),
        "p99_dev_ms_p90": _round(percentile(p99s, 90)),
        "p99_dev_ms_max": _round(max(p99s) if p99s else None),
        "interarrival_max_ms": _round(
            max((e["interarrival_max_ms"] or 0.0) for e in reports) if reports else None
        ),
        "packets": packets,
        "lost": lost,
        "lost_fraction": round(lost / (packets + lost), 5) if packets + lost else 1.0,
        "behind_ms_median": _round(median(behind)),
        "behind_ms_max": _round(max(behind) if behind else None),
        "fake_cpu_cores": round(fake_cpu / elapsed, 3),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def _gc_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Collections per generation, their total pause and pauses over a frame, in the window."""
    counts = zip(after["collections"], before["collections"], strict=True)
    paused = zip(after["total_pause_ms"], before["total_pause_ms"], strict=True)
    return {
        "collections": [a - b for a, b in counts],
        "pause_ms": [round(a - b, 1) for a, b in paused],
        "pauses_over_frame": after["pauses_over_frame"] - before["pauses_over_frame"],
        "max_pause_ms_since_start": after["max_pause_ms"],
        "frozen_objects": after["frozen_objects"],
    }


def _pacer_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Ticks in the window by how late the pacing thread woke and how long it sent, and the
    streams' missed ticks; the maxima are since start."""
    late = {k: after["late"][k] - before["late"].get(k, 0) for k in after["late"]}
    send = {k: after["send"][k] - before["send"].get(k, 0) for k in after["send"]}
    return {
        "ticks": after["ticks"] - before["ticks"],
        "late": late,
        "send": send,
        "underruns": after["underruns"] - before["underruns"],
        "stalls": after["stalls"] - before["stalls"],
        "max_late_ms_since_start": after["max_late_ms"],
        "max_send_ms_since_start": after["max_send_ms"],
        "threads": after["threads"],
        "readers": after["readers"],
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


async def run_series(
    series: Series,
    steps: list[int],
    *,
    window_s: float,
    tones: ToneFiles,
    tone_s: float,
    log_dir: Path,
) -> dict[str, Any]:
    """Step one series up; return its steps and how it ended."""
    tone_name = await tones.make(440, tone_s, series.fmt)
    result: dict[str, Any] = {"series": series.name, "bot": series.bot, "format": series.fmt}
    result["steps"] = figures = []
    started = time.monotonic()
    async with FakeProcess(max(steps), decode=False) as fake:
        assert fake.proc is not None
        log_path = log_dir / f"{series.name}.log"
        async with BotProcess(series.bot, fake.info, log_path=log_path) as bot:
            await asyncio.sleep(1.0)
            idle = sample_tree(bot.pid)
            result["idle_rss_mb"] = round(idle.rss_kb / 1024, 1)
            result["idle_pss_mb"] = round(idle.pss_kb / 1024, 1)
            pacer = JoinPacer()
            guilds = fake.guilds
            playing: list[dict[str, Any]] = []
            for n in steps:
                new = guilds[len(playing) : n]
                await _start_streams(
                    series,
                    bot=bot,
                    fake=fake,
                    tones=tones,
                    tone_name=tone_name,
                    guilds=new,
                    pacer=pacer,
                )
                playing += new
                ids = [g["guild_id"] for g in playing]
                ok, count = await _wait_playing(bot, fake, ids, timeout_s=120 + 2 * len(new))
                await asyncio.sleep(SETTLE_S)
                await fake.reset_ears(ids)
                status_before = await bot.call({"op": "status"})
                before = sample_tree(bot.pid, memory=False)
                fake_before = sample_tree(fake.proc.pid, memory=False)
                drops_before = udp_drops(fake.proc.pid)
                await asyncio.sleep(window_s)
                after = sample_tree(bot.pid)
                fake_after = sample_tree(fake.proc.pid, memory=False)
                drops = udp_drops(fake.proc.pid) - drops_before
                status_after = await bot.call({"op": "status"})
                ears = await fake.ears(ids)
                step = _step_figures(
                    n,
                    bot_pid=bot.pid,
                    window_s=window_s,
                    before=before,
                    after=after,
                    fake_before=fake_before,
                    fake_after=fake_after,
                    idle=idle,
                    ears=ears,
                )
                # Lost at the ear's own socket (the fake starved of CPU), not by the bot.
                step["ear_socket_drops"] = drops
                if "pacer" in status_after:  # ours only: the worker's own view of the window
                    step["gc"] = _gc_delta(status_before["gc"], status_after["gc"])
                    step["pacer"] = _pacer_delta(status_before["pacer"], status_after["pacer"])
                step["all_playing"] = ok
                step["playing_reported"] = count
                figures.append(step)
                sys.stderr.write(f"[streams] {series.name} {json.dumps(step)}\n")
                if _saturated(step):
                    result["stopped_at"] = n
                    break
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def summarise(series_results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per series: the most streams meeting the pacing goal, and ratios against the baseline."""
    best: dict[str, dict[str, Any]] = {}
    for result in series_results:
        good = [
            s
            for s in result["steps"]
            if s["all_playing"]
            and s["lost"] - s.get("ear_socket_drops", 0) <= 0
            and s["p99_dev_ms_median"] is not None
            and s["p99_dev_ms_median"] <= PACING_GOAL_MS
        ]
        top = max(good, key=lambda s: s["streams"]) if good else None
        best[result["series"]] = {
            "max_streams_at_goal_pacing": top["streams"] if top else 0,
            "streams_per_vcpu": top["streams_per_vcpu"] if top else None,
            "cpu_s_per_audio_s": top["cpu_s_per_audio_s"] if top else None,
            "rss_per_stream_mb": top["rss_per_stream_mb"] if top else None,
            "pss_per_stream_mb": top["pss_per_stream_mb"] if top else None,
            "p99_dev_ms_median": top["p99_dev_ms_median"] if top else None,
            "p99_dev_ms_max": top["p99_dev_ms_max"] if top else None,
            "lost": top["lost"] if top else None,
            "ear_socket_drops": top.get("ear_socket_drops") if top else None,
        }
    summary: dict[str, Any] = {"by_series": best, "at_common_step": _at_common_step(series_results)}
    for kind in ("passthrough", "transcode"):
        ours, base = best.get(f"ours_{kind}"), best.get(f"baseline_{kind}")
        if ours and base:
            summary[f"{kind}_ratio_streams_per_vcpu"] = _ratio(
                ours["streams_per_vcpu"], base["streams_per_vcpu"]
            )
            summary[f"{kind}_ratio_pss_per_stream"] = _ratio(
                ours["pss_per_stream_mb"], base["pss_per_stream_mb"]
            )
            summary[f"{kind}_ratio_rss_per_stream"] = _ratio(
                ours["rss_per_stream_mb"], base["rss_per_stream_mb"]
            )
    return summary


def _at_common_step(series_results: list[dict[str, Any]]) -> dict[str, Any]:
    """Ours against the baseline at the largest step both reached with every stream playing,
    whatever the pacing: CPU and memory per stream do not depend on meeting the pacing goal."""
    steps = {r["series"]: {s["streams"]: s for s in r["steps"] if s["all_playing"]}
             for r in series_results}  # fmt: skip
    result: dict[str, Any] = {}
    for kind in ("passthrough", "transcode"):
        ours, base = steps.get(f"ours_{kind}", {}), steps.get(f"baseline_{kind}", {})
        common = sorted(set(ours) & set(base))
        if not common:
            continue
        n = common[-1]
        o, b = ours[n], base[n]
        result[kind] = {
            "streams": n,
            "ours": {k: o[k] for k in _COMPARED},
            "baseline": {k: b[k] for k in _COMPARED},
            "ratio_streams_per_vcpu": _ratio(o["streams_per_vcpu"], b["streams_per_vcpu"]),
            "ratio_pss_per_stream": _ratio(o["pss_per_stream_mb"], b["pss_per_stream_mb"]),
            "ratio_rss_per_stream": _ratio(o["rss_per_stream_mb"], b["rss_per_stream_mb"]),
        }
    return result


_COMPARED = (
    "streams_per_vcpu",
    "cpu_s_per_audio_s",
    "pss_per_stream_mb",
    "rss_per_stream_mb",
    "p99_dev_ms_median",
    "p99_dev_ms_max",
    "lost",
    "loadavg_1m",
)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


PLANS: dict[str, dict[str, Any]] = {
    "quick": {
        "passthrough": [1, 10, 50],
        "transcode": [1, 10, 25],
        "window_s": 5.0,
        "tone_s": 300.0,
        # The before/after series only in the full run: a few minutes at most.
        "series": [
            "ours_passthrough",
            "baseline_passthrough",
            "ours_transcode",
            "baseline_transcode",
        ],
    },
    "full": {
        "passthrough": [1, 10, 50, 100, 200, 300],
        "transcode": [1, 10, 25, 50, 75, 100],
        "window_s": 10.0,
        "tone_s": 1200.0,
    },
}


async def run(
    plan_name: str,
    log_dir: Path,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every series of a plan (``overrides``: the plan's steps or window, from the command line)."""
    plan = {**PLANS[plan_name], **(overrides or {})}
    tones = ToneFiles()
    await tones.start()
    results = []
    try:
        for series in SERIES:
            if (only and series.name not in only) or (
                not only and series.name not in plan.get("series", [s.name for s in SERIES])
            ):
                continue
            steps = plan["transcode" if series.transcode else "passthrough"]
            results.append(
                await run_series(
                    series,
                    list(steps),
                    window_s=float(plan["window_s"]),
                    tones=tones,
                    tone_s=float(plan["tone_s"]),
                    log_dir=log_dir,
                )
            )
    finally:
        await tones.stop()
    return {
        "benchmark": "streams",
        "plan": plan_name,
        "cpus": os.cpu_count(),
        "window_s": plan["window_s"],
        "series": results,
        "summary": summarise(results),
    }


def main() -> None:
    """Print the streams benchmark as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller steps")
    parser.add_argument("--series", nargs="*", help="only these series")
    parser.add_argument("--log-dir", default="/tmp", help="where bot logs go")
    parser.add_argument("--steps", type=int, nargs="+", help="passthrough steps (N streams)")
    parser.add_argument("--transcode-steps", type=int, nargs="+", help="transcoding steps")
    parser.add_argument("--window", type=float, help="seconds sampled per step")
    args = parser.parse_args()
    plan = "quick" if args.quick else "full"
    overrides: dict[str, Any] = {}
    if args.steps:
        overrides["passthrough"] = args.steps
    if args.transcode_steps:
        overrides["transcode"] = args.transcode_steps
    if args.window:
        overrides["window_s"] = args.window
    report = asyncio.run(run(plan, Path(args.log_dir), args.series, overrides))
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
