"""Sustained load on the interactions app from a second process (wrk), on one core. Prints JSON.

The app (create_app with the in-process queue, drained by a consumer task as workers would;
logging as in production: JSON at INFO through shared.logs' redactor, into /dev/null) is served
by uvicorn in a child process pinned to core 0 (the consumer shares that core);
wrk runs pinned to core 1 and replays pre-signed requests, each with its own interaction id:
a mix of PING, /play, /skip, /queue and player buttons across --guilds guilds and 1,000 users.

Phases: `saturation` (--connections, --duration s: the highest rate one core sustains) and
`overload` (--overload-connections for --overload-duration s: far more clients than the core can
serve, to show a bounded queue rather than collapse). After each phase the server reports what
it enqueued; `jobs_accounted` checks every deferred answer has exactly one job behind it.

    .venv/bin/python bench/load_interactions.py [--duration 60] [--connections 32]
    .venv/bin/python bench/load_interactions.py serve ...   (the child process; internal)

Needs `wrk` (apt-get install -y wrk) and `taskset` (util-linux).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: make the repository importable

from nacl.signing import SigningKey  # noqa: E402

LUA = Path(__file__).with_suffix(".lua")
RESULTS = Path(__file__).parent / "results"
APPLICATION_ID = "1300000000000000001"
# kind: weight. PING is Discord's health probe; /queue reads state (answered without a store
# here: the clear "unavailable" reply); play/skip/button enqueue a job each.
MIX = {"ping": 2, "play": 4, "queue": 1, "skip": 2, "button": 1}
USERS = 1000


# -- the server (child process) --------------------------------------------------------------


def serve(port: int, public_key_hex: str, stats_path: Path) -> None:
    """Run the app under uvicorn until SIGTERM, then write what the queue holds."""
    import uvicorn  # noqa: PLC0415 - only the child needs it

    from interactions.app import create_app  # noqa: PLC0415
    from shared.logs import configure_logging  # noqa: PLC0415
    from shared.queue import InMemoryJobQueue  # noqa: PLC0415
    from tests.fixtures_interactions import make_settings  # noqa: PLC0415

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stderr = devnull
    configure_logging(log_format="json", level="INFO")
    settings = make_settings(public_key_hex, rate_limit_commands=10**9, rate_limit_window_s=10.0)
    queue = InMemoryJobQueue()
    app = create_app(settings, queue)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the SIGTERM it caught once it has shut down: let that one pass, so the
    # figures below still get written.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    drained = asyncio.run(_serve_and_drain(server, queue))
    stats_path.write_text(
        json.dumps({"jobs_enqueued": drained + queue.depth(), "jobs_drained": drained})
    )
    logging.shutdown()


async def _serve_and_drain(server: Any, queue: Any) -> int:
    """Serve until shut down while a consumer takes jobs off the queue, as workers would (a
    queue that only grows would measure the garbage collector walking it, not the app)."""
    drained = 0
    stop = asyncio.Event()

    async def drain() -> None:
        nonlocal drained
        while not stop.is_set():
            for delivery in await queue.receive(max_messages=10, wait_s=0.2):
                await queue.ack(delivery)
                drained += 1

    consumer = asyncio.create_task(drain())
    try:
        await server.serve()
    finally:
        stop.set()
        await consumer
    return drained


# -- requests ----------------------------------------------------------------------------------


def _payload(kind: str, n: int, guilds: int) -> dict[str, Any]:
    interaction_id = str(1400000000000000000 + n)
    guild = str(1300000000000000100 + n % guilds)
    user = str(1300000000000000500 + n % USERS)
    base: dict[str, Any] = {
        "id": interaction_id,
        "application_id": APPLICATION_ID,
        "token": f"aW50ZXJhY3Rpb246{interaction_id}bG9hZHRva2Vu" + "x" * 120,
        "version": 1,
        "guild_id": guild,
        "channel_id": str(1300000000000000200 + n % guilds),
        "app_permissions": "562949953601536",
        "member": {
            "user": {"id": user, "username": f"user{n % USERS}", "global_name": None},
            "roles": [],
            "permissions": "2248473465835073",
            "nick": None,
        },
    }
    if kind == "ping":
        return {"id": interaction_id, "application_id": APPLICATION_ID, "type": 1, "version": 1}
    if kind == "button":
        return {**base, "type": 3, "data": {"component_type": 2, "custom_id": "player:pause"}}
    options = (
        [{"name": "query", "type": 3, "value": f"load test song {n}"}] if kind == "play" else []
    )
    return {**base, "type": 2, "data": {"id": "1", "name": kind, "type": 1, "options": options}}


def write_requests(
    key: SigningKey, base: Path, count: int, *, guilds: int, threads: int, start: int
) -> dict[str, int]:
    """Write `count` signed requests split over one file per wrk thread; return job counts."""
    stamp = str(int(time.time()))
    kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
    files = [open(f"{base}.{t}", "w") for t in range(threads)]  # noqa: SIM115
    expected_jobs = 0
    try:
        for n in range(start, start + count):
            kind = kinds[n % len(kinds)]
            expected_jobs += kind in ("play", "skip", "button")
            body = json.dumps(_payload(kind, n, guilds), separators=(",", ":"))
            signature = key.sign(stamp.encode() + body.encode()).signature.hex()
            files[n % threads].write(f"{kind}\t{signature}\t{stamp}\t{body}\n")
    finally:
        for f in files:
            f.close()
    return {"requests": count, "job_requests": expected_jobs}


# -- the driver ----------------------------------------------------------------------------------


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() else []


def run_phase(
    name: str, *, connections: int, duration_s: int, pool: int, guilds: int, start: int
) -> dict[str, Any]:
    """One server process, one wrk run; returns the phase's figures."""
    key = SigningKey.generate()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        base = Path(tmp) / "requests"
        stats = Path(tmp) / "stats.json"
        threads = 1
        made = write_requests(key, base, pool, guilds=guilds, threads=threads, start=start)
        server = subprocess.Popen(
            [
                *_pin(0),
                sys.executable,
                __file__,
                "serve",
                "--port",
                str(port),
                "--public-key",
                key.verify_key.encode().hex(),
                "--stats",
                str(stats),
            ]
        )
        try:
            _wait_healthy(port)
            wrk = subprocess.run(
                [
                    *_pin(1),
                    "wrk",
                    f"-t{threads}",
                    f"-c{connections}",
                    f"-d{duration_s}s",
                    "--timeout",
                    "10s",
                    "-s",
                    str(LUA),
                    f"http://127.0.0.1:{port}/interactions",
                    "--",
                    str(base),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        report = json.loads(wrk.stdout.strip().splitlines()[-1])
        server_stats = json.loads(stats.read_text())
    seconds = report["duration_us"] / 1e6
    lat = report["latency_us"]
    errors = sum(report["errors"].values())
    return {
        "phase": name,
        "connections": connections,
        "duration_s": round(seconds, 1),
        "requests": report["requests"],
        "throughput_rps": round(report["requests"] / seconds, 1),
        "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items()},
        "errors": errors,
        "error_detail": report["errors"],
        "status_5xx": report["status_5xx"],
        "status_4xx": report["status_4xx"],
        "deferred_answers": report["deferred"],
        "jobs_enqueued": server_stats["jobs_enqueued"],
        "jobs_drained": server_stats["jobs_drained"],
        # Each deferred answer is a distinct interaction (the pool never cycled) with one job
        # behind it; requests still in flight when wrk stopped (at most one per connection)
        # were enqueued but their answers not counted.
        "jobs_accounted": report["pool_cycles"] == 0
        and 0 <= server_stats["jobs_enqueued"] - report["deferred"] <= connections,
        "request_pool": made["requests"],
        "pool_cycles": report["pool_cycles"],
    }


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def main() -> None:
    """Parse arguments; run the server (internal) or the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("serve")
    child.add_argument("--port", type=int, required=True)
    child.add_argument("--public-key", required=True)
    child.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--overload-duration", type=int, default=20)
    parser.add_argument("--overload-connections", type=int, default=1024)
    parser.add_argument("--guilds", type=int, default=200)
    parser.add_argument("--max-rps", type=int, default=4000, help="sizes the request pool")
    parser.add_argument("--output", type=Path, default=RESULTS / "load_interactions.json")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.public_key, args.stats)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    phases: list[dict[str, Any]] = []
    for name, connections, duration in (
        ("saturation", args.connections, args.duration),
        ("overload", args.overload_connections, args.overload_duration),
    ):
        pool = args.max_rps * duration
        phases.append(
            run_phase(
                name,
                connections=connections,
                duration_s=duration,
                pool=pool,
                guilds=args.guilds,
                start=len(phases) * 10_000_000,
            )
        )
    result = {
        "benchmark": "load_interactions",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Other work on the machine shows up in the tail latencies: read it alongside.
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "server": "uvicorn (h11) + create_app, in-process queue drained in-process, core 0",
        "client": "wrk -t1 on core 1, pre-signed requests, each a distinct interaction",
        "mix": MIX,
        "phases": phases,
    }
    text = json.dumps(result, indent=2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
