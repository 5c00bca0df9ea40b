"""Every benchmark in one run: streams per worker, time to first audio, the ack path.

``.venv/bin/python bench/run_all.py [--quick] [--out bench/results]`` runs bench/streams.py,
bench/ttfa.py (in this process) and bench/cold_start.py, bench/warm_path.py (as subprocesses:
they are another part's and are used as they are), prints one JSON report with a ``headline``,
and writes ``latest.json`` (or ``latest-quick.json``) and a PNG plot of streams against p99
pacing deviation and memory per stream into the output directory; the bots' logs go to a
temporary directory named in the report (``bot_logs``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streams
import ttfa
from harness import PYTHON, ROOT

ACK_ARGS = {
    "quick": {"cold_start.py": ["--runs", "3"], "warm_path.py": ["--iterations", "500"]},
    "full": {"cold_start.py": ["--runs", "7"], "warm_path.py": ["--iterations", "2000"]},
}


async def ack_path(plan: str) -> dict[str, Any]:
    """bench/cold_start.py and bench/warm_path.py, each in its own process."""
    results: dict[str, Any] = {}
    for script, args in ACK_ARGS[plan].items():
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            str(ROOT / "bench" / script),
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        name = script.removesuffix(".py")
        if process.returncode != 0:
            results[name] = {"error": err.decode(errors="replace")[-500:]}
            continue
        results[name] = json.loads(out)
    return results


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The figures the README quotes, with their goals."""
    summary = report["streams"]["summary"]
    by = summary["by_series"]
    t = report["ttfa"]
    cold = report["ack_path"].get("cold_start", {})
    warm = report["ack_path"].get("warm_path", {})

    def pick(series: str, key: str) -> Any:
        return by.get(series, {}).get(key)

    return {
        "passthrough_streams_per_vcpu": pick("ours_passthrough", "streams_per_vcpu"),
        "passthrough_max_streams_at_goal_pacing": pick(
            "ours_passthrough", "max_streams_at_goal_pacing"
        ),
        "passthrough_p99_dev_ms": pick("ours_passthrough", "p99_dev_ms_median"),
        "passthrough_pss_per_stream_mb": pick("ours_passthrough", "pss_per_stream_mb"),
        "baseline_passthrough_streams_per_vcpu": pick("baseline_passthrough", "streams_per_vcpu"),
        "baseline_passthrough_pss_per_stream_mb": pick("baseline_passthrough", "pss_per_stream_mb"),
        "passthrough_ratio_pss_per_stream": summary.get("passthrough_ratio_pss_per_stream"),
        "passthrough_ratio_streams_per_vcpu": summary.get("passthrough_ratio_streams_per_vcpu"),
        "transcode_streams_per_vcpu": pick("ours_transcode", "streams_per_vcpu"),
        "baseline_transcode_streams_per_vcpu": pick("baseline_transcode", "streams_per_vcpu"),
        "transcode_ratio_streams_per_vcpu": summary.get("transcode_ratio_streams_per_vcpu"),
        "ttfa_fresh_ms": t["fresh_ms_median"],
        "ttfa_hand_ytdlp_ffmpeg_ms": t["hand_ytdlp_ffmpeg_ms_median"],
        "ttfa_ratio_fresh_to_hand": t["ratio_fresh_to_hand"],
        "ttfa_resolved_ms": t["resolved_ms_median"],
        "next_track_gap_ms": t["next_track_gap_ms_median"],
        "at_common_step": summary.get("at_common_step"),
        "ack_cold_start_ratio": cold.get("ratio"),
        "ack_warm_p99_ratio_play": warm.get("ratio_p99_play"),
        "goals": {
            "passthrough_streams_per_vcpu": ">= 200 at p99 <= 5 ms, no loss",
            "passthrough_ratio_pss_per_stream": "<= 0.2",
            "transcode_ratio_streams_per_vcpu": ">= 2",
            "ttfa_ratio_fresh_to_hand": "<= 1.2",
            "next_track_gap_ms": "< 100",
        },
    }


def plot(report: dict[str, Any], path: Path) -> bool:
    """Streams vs p99 deviation and vs memory per stream; False when matplotlib is missing."""
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional, the `bench` extra

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return False
    fig, (pacing, memory) = plt.subplots(1, 2, figsize=(10, 4), dpi=80)
    for result in report["streams"]["series"]:
        steps = result["steps"]
        xs = [s["streams"] for s in steps]
        style = "-" if result["bot"].startswith("ours") else "--"
        pacing.plot(xs, [s["p99_dev_ms_median"] for s in steps], style, marker="o",
                    label=result["series"])  # fmt: skip
        memory.plot(xs, [s["pss_per_stream_mb"] for s in steps], style, marker="o",
                    label=result["series"])  # fmt: skip
    pacing.axhline(5.0, color="grey", linewidth=0.8, linestyle=":")
    pacing.set(xscale="log", xlabel="concurrent streams (one worker)",
               ylabel="p99 |inter-packet - 20 ms| (ms), median guild")  # fmt: skip
    memory.set(xscale="log", xlabel="concurrent streams (one worker)",
               ylabel="PSS per stream above idle (MB)")  # fmt: skip
    pacing.legend(fontsize=7)
    memory.legend(fontsize=7)
    fig.suptitle(f"musicbot voice worker vs discord.py baseline ({report['streams']['plan']})")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


async def run(plan: str, out_dir: Path) -> dict[str, Any]:
    """All benchmarks, in sequence (never two at once: they would measure each other)."""
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="musicbot-bench-logs-"))
    report: dict[str, Any] = {
        "plan": plan,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "bot_logs": str(log_dir),
    }
    report["ack_path"] = await ack_path(plan)
    report["ttfa"] = await ttfa.run(5 if plan == "quick" else 11, log_dir)
    report["streams"] = await streams.run(plan, log_dir)
    report["headline"] = headline(report)
    report["wall_s"] = round(time.monotonic() - started, 1)
    return report


def main() -> None:
    """Run everything, write the results, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the reduced run (a few minutes)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument(
        "--summarise",
        metavar="REPORT",
        help="recompute the summary, headline and plot of a stored report (no measuring)",
    )
    args = parser.parse_args()
    if args.summarise:
        path = Path(args.summarise)
        report = json.loads(path.read_text())
        report["streams"]["summary"] = streams.summarise(report["streams"]["series"])
        report["headline"] = headline(report)
        if report.get("plot"):
            plot(report, ROOT / report["plot"])
        path.write_text(json.dumps(report, indent=2) + "\n")
        sys.stdout.write(json.dumps(report["headline"], indent=2) + "\n")
        return
    plan = "quick" if args.quick else "full"
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(run(plan, out_dir))
    suffix = "-quick" if plan == "quick" else ""
    png = out_dir / f"streams{suffix}.png"
    report["plot"] = str(png.relative_to(ROOT)) if plot(report, png) else None
    text = json.dumps(report, indent=2)
    (out_dir / f"latest{suffix}.json").write_text(text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
