"""Warm-path latency of the interactions app, in process. Prints JSON.

Drives the ASGI apps directly (no HTTP client or server in the measurement) with pre-signed
requests, and reports p50/p99 over --iterations for:
  ping:  a signed PING through the FastAPI app;
  play:  a signed /play through the FastAPI app, enqueued on the in-process queue (dedup
         window shortened to 1 s, see below);
  bare:  a bare Starlette route that only verifies the signature and answers PONG
         (the floor: parsing headers, reading the body, one Ed25519 verification).
Scenarios run interleaved, one request of each per round. Logging is configured as in
production (JSON lines at INFO, through shared.logs' redactor), written to /dev/null; a second
pass, in a fresh process configured with LOG_LEVEL=WARNING (loggers are cached on first use, so
a level is a process's, as in production), shows what the per-request log line costs.
Goal: p99(ping) and p99(play) <= 2 x p99(bare).

    .venv/bin/python bench/warm_path.py [--iterations 2000] [--log-level INFO]
    chrt -f 10 .venv/bin/python bench/warm_path.py   # on a busy machine (root), see bench/README.md
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: make the repository importable

from nacl.exceptions import BadSignatureError  # noqa: E402
from nacl.signing import SigningKey, VerifyKey  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from interactions.app import create_app  # noqa: E402
from shared.logs import configure_logging  # noqa: E402
from shared.queue import InMemoryJobQueue  # noqa: E402
from tests.fixtures_interactions import encode, make_settings, payload  # noqa: E402

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def call(app: Asgi, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """One POST /interactions through an ASGI app; returns the status code."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/interactions",
        "raw_path": b"/interactions",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("bench", 443),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def bare_app(public_key_hex: str) -> Asgi:
    """The floor: a Starlette route that verifies the signature and answers PONG."""
    key = VerifyKey(bytes.fromhex(public_key_hex))

    async def interactions(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-signature-ed25519", "")
        timestamp = request.headers.get("x-signature-timestamp", "")
        try:
            key.verify(timestamp.encode() + body, bytes.fromhex(signature))
        except (BadSignatureError, ValueError):
            return JSONResponse({"error": "invalid request signature"}, status_code=401)
        return JSONResponse({"type": 1})

    return Starlette(routes=[Route("/interactions", interactions, methods=["POST"])])


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p99/mean in ms."""
    quantiles = statistics.quantiles(samples, n=100)
    return {
        "p50_ms": round(statistics.median(samples), 4),
        "p99_ms": round(quantiles[98], 4),
        "mean_ms": round(statistics.fmean(samples), 4),
    }


SignedRequest = tuple[bytes, list[tuple[bytes, bytes]]]
_SCHEDULERS = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR"}


async def measure(
    scenarios: dict[str, tuple[Asgi, list[SignedRequest]]], warmup: int
) -> dict[str, dict[str, float]]:
    """Run the scenarios interleaved (one request of each per round) so noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in scenarios}
    rounds = len(next(iter(scenarios.values()))[1])
    for n in range(rounds):
        for name, (app, requests) in scenarios.items():
            body, headers = requests[n]
            started = time.perf_counter()
            status = await call(app, body, headers)
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"{name}: unexpected status {status}")
            if n >= warmup:
                samples[name].append(elapsed * 1000)
    return {name: percentiles(values) for name, values in samples.items()}


async def run(iterations: int, warmup: int) -> dict[str, dict[str, float]]:
    """Build the apps and measure all three scenarios."""
    key = SigningKey.generate()
    public = key.verify_key.encode().hex()
    settings = make_settings(public, rate_limit_commands=10**9, log_format="json")
    # A short dedup window: the in-process queue prunes its dedup table on every send, in time
    # proportional to the ids seen within the window (5 min by default), which would make
    # this benchmark measure the queue's bookkeeping of 2,000 ids rather than the front door.
    queue = InMemoryJobQueue(dedup_window_s=1.0)
    app = create_app(settings, queue)
    bare = bare_app(public)

    def signed(data: dict[str, Any]) -> SignedRequest:
        body = encode(data)
        stamp = str(int(time.time()))
        signature = key.sign(stamp.encode() + body).signature.hex()
        return body, [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-signature-ed25519", signature.encode()),
            (b"x-signature-timestamp", stamp.encode()),
        ]

    total = iterations + warmup
    pings = [signed(payload("ping"))] * total
    plays = [signed(payload("play", id=str(1300000000000100000 + n))) for n in range(total)]

    # As in a warm Lambda (lambda_entry freezes what init and the first invocation built): the
    # apps and the pre-signed requests stay out of the collector's generations.
    gc.collect()
    gc.freeze()
    results = await measure(
        {
            "bare_starlette_verify": (bare, pings),
            "ping": (app, pings),
            "play_in_process_queue": (app, plays),
        },
        warmup,
    )
    if queue.depth() != total:
        raise RuntimeError(f"expected {total} jobs on the queue, found {queue.depth()}")
    return results


def ratios(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """Our scenarios against the bare route of the same pass."""
    floor = results["bare_starlette_verify"]
    return {
        "ratio_p99_ping": round(results["ping"]["p99_ms"] / floor["p99_ms"], 3),
        "ratio_p99_play": round(results["play_in_process_queue"]["p99_ms"] / floor["p99_ms"], 3),
        "ratio_p50_ping": round(results["ping"]["p50_ms"] / floor["p50_ms"], 3),
        "ratio_p50_play": round(results["play_in_process_queue"]["p50_ms"] / floor["p50_ms"], 3),
    }


def quiet_pass(iterations: int, warmup: int) -> dict[str, dict[str, float]]:
    """The same scenarios in a fresh process logging at WARNING: no per-request line."""
    command = [sys.executable, __file__, "--iterations", str(iterations), "--warmup", str(warmup)]
    child = subprocess.run(
        [*command, "--log-level", "WARNING", "--single-pass"],
        check=True,
        capture_output=True,
        text=True,
    )
    report: dict[str, dict[str, float]] = json.loads(child.stdout)
    return report


def main() -> int:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--single-pass", action="store_true", help="no quiet pass (its child)")
    args = parser.parse_args()
    # Production-like logging (JSON lines), without measuring a terminal's speed.
    with open(os.devnull, "w") as sink:
        configure_logging(log_format="json", level=args.log_level, stream=sink)
        results = asyncio.run(run(args.iterations, args.warmup))
    if args.single_pass:
        sys.stdout.write(json.dumps(results) + "\n")
        return 0
    quiet = quiet_pass(args.iterations, args.warmup)
    quiet_ratios = ratios(quiet)
    report = {
        "benchmark": "warm_path",
        "iterations": args.iterations,
        "python": sys.version.split()[0],
        "load_average_1m": round(os.getloadavg()[0], 2),
        # SCHED_FIFO when run under `chrt -f`: on a shared machine, p99 then measures the app
        # rather than the other processes' time slices.
        "scheduling": _SCHEDULERS.get(os.sched_getscheduler(0), "other"),
        **results,
        "ping_without_info_log": quiet["ping"],
        "play_without_info_log": quiet["play_in_process_queue"],
        "bare_starlette_verify_second_pass": quiet["bare_starlette_verify"],
        **ratios(results),
        "ratio_p99_ping_without_info_log": quiet_ratios["ratio_p99_ping"],
        "ratio_p99_play_without_info_log": quiet_ratios["ratio_p99_play"],
        "goal_ratio_p99": 2.0,
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
