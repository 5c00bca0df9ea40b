"""A play/skip storm on one voice worker while other guilds just listen. Prints JSON.

The whole stack in one process, as the end-to-end tests run it: the fake Discord (signed HTTP
interactions, gateway, voice, the listening ear), the front door under uvicorn, the in-process
queue and one worker. --listeners guilds each play one 14 s tone untouched; --stormers guilds
each get --per-guild commands (plays of 1 s tones with a skip after every second play) sent as
fast as the fake delivers them, all guilds at once. Reported: commands answered (the front door
refuses past 5 per user per 10 s: counted apart), jobs run and duplicates, answer latency, and
for every listening guild what the ear heard (seconds, unbroken stretches, lost packets,
inter-packet timing). Same scenario as tests/faults/test_worker_storm.py, bigger.

    .venv/bin/python bench/load_worker.py [--listeners 4] [--stormers 16] [--per-guild 5]
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: make the repository importable

from fake_discord.pointing import point_discord_py  # noqa: E402
from fake_discord.server import FakeDiscord  # noqa: E402
from interactions.bootstrap import bootstrap  # noqa: E402
from shared.queue import InMemoryJobQueue  # noqa: E402
from tests.e2e.conftest import RESOLVE_TIMEOUT_S, Bot  # noqa: E402
from tests.faults.storm import run_storm  # noqa: E402
from tests.fixtures_audio import ToneServer  # noqa: E402
from voice_worker.demo import demo_settings  # noqa: E402
from voice_worker.demo_support import FrontDoorServer  # noqa: E402
from voice_worker.sources import Resolver, ResolverConfig  # noqa: E402
from voice_worker.tracks import CachedTracks  # noqa: E402
from voice_worker.worker import Worker  # noqa: E402

RESULTS = Path(__file__).parent / "results"


async def run(listeners: int, stormers: int, per_guild: int, tones: ToneServer) -> dict[str, Any]:
    """Start the stack, run the storm, stop; return the figures."""
    fake = FakeDiscord(guilds=listeners + stormers)
    await fake.start()
    restore = point_discord_py(fake.rest_base_url, fake.gateway_url)
    settings = demo_settings(fake).model_copy(update={"log_level": "WARNING"})
    queue = InMemoryJobQueue()
    server = FrontDoorServer(bootstrap(settings, queue=queue, configure_logs=False).app)
    await server.start()
    fake.interactions_url = server.url
    sources = CachedTracks(
        Resolver(ResolverConfig(allow_private_addresses=True, timeout_s=RESOLVE_TIMEOUT_S))
    )
    worker = Worker(settings, queue=queue, sources=sources, health_port=0)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        started = time.monotonic()
        result = await run_storm(
            Bot(fake, worker, queue),
            tones,
            listeners=listeners,
            stormers=stormers,
            per_guild=per_guild,
        )
        elapsed = time.monotonic() - started
    finally:
        worker.request_stop()
        await task
        await sources.aclose()
        await server.stop()
        await fake.stop()
        restore()
    figures = result.figures()
    expected_jobs = result.commands_sent - result.rate_limited + listeners
    figures["jobs_accounted"] = (
        result.answered == result.commands_sent
        and result.jobs_succeeded + result.jobs_failed == expected_jobs
        and result.jobs_duplicate == 0
    )
    figures["listeners_undisturbed"] = all(
        heard["audible_stretches"] == 1 and heard["lost"] == 0 and heard["sequence_gaps"] == 0
        for heard in result.listeners
    )
    figures["elapsed_s"] = round(elapsed, 1)
    return figures


def main() -> None:
    """Parse arguments, run, print and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listeners", type=int, default=4)
    parser.add_argument("--stormers", type=int, default=16)
    parser.add_argument("--per-guild", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS / "load_worker.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tones-") as tmp:
        tones = ToneServer(Path(tmp))
        tones.start()
        try:
            figures = asyncio.run(run(args.listeners, args.stormers, args.per_guild, tones))
        finally:
            tones.close()
    result = {
        "benchmark": "load_worker",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Other work on the machine shows up in the tail latencies: read it alongside.
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "scenario": {
            "listeners": args.listeners,
            "stormers": args.stormers,
            "per_guild": args.per_guild,
        },
        **figures,
    }
    text = json.dumps(result, indent=2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
