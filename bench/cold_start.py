"""Cold start of the interactions Lambda against the framework's floor. Prints JSON.

Each sample is a FRESH Python process, timed by this (parent) process from spawn until the
child reports its answer:
  ours:  import interactions.lambda_entry, then one signed /play through `handler`, enqueued on
         a FIFO queue of a moto server this script starts (the real SQS path, over HTTP);
  floor: import FastAPI + Mangum, build a one-route app, answer one PING through Mangum;
  waking: as ours, with worker waking configured (STATE_TABLE, WORKER_CLUSTER/SERVICE) and no
         worker alive: the first call also queries the heartbeats and sets the ECS service
         (reset to 0 before each sample) to 1 — the worst case of a /play from zero.
The children also report their import / first-call split. The child of "ours" hides `rich`, as
the Lambda bundle lacks it (a dev tool's dependency in this virtualenv, which structlog would
import). Samples alternate ours/floor so
machine noise hits both alike. Goal: median(ours) / median(floor) <= 1.3.

    .venv/bin/python bench/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script run from anywhere: make the repository importable

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

from tests.fixtures_interactions import apigw_event, encode, payload  # noqa: E402

OURS = """
import json, os, sys, time
# As in the Lambda bundle, which has no `rich`: here a dev tool (bandit, pip-audit) brings it,
# and structlog imports it when present (~0.1 s that Lambda never pays).
sys.modules["rich"] = None
t0 = time.perf_counter()
import interactions.lambda_entry as entry
t1 = time.perf_counter()
event = json.load(open(os.environ["BENCH_EVENT"]))
result = entry.handler(event, None)
t2 = time.perf_counter()
answer = json.loads(result["body"])
print(json.dumps({"import_s": t1 - t0, "call_s": t2 - t1, "status": result["statusCode"],
                  "type": answer.get("type")}), flush=True)
"""

FLOOR = """
import json, os, time
t0 = time.perf_counter()
from fastapi import FastAPI
from mangum import Mangum
t1 = time.perf_counter()
app = FastAPI()

@app.post("/interactions")
async def interactions():
    return {"type": 1}

handler = Mangum(app, lifespan="off")
event = json.load(open(os.environ["BENCH_EVENT"]))
result = handler(event, None)
t2 = time.perf_counter()
answer = json.loads(result["body"])
print(json.dumps({"import_s": t1 - t0, "call_s": t2 - t1, "status": result["statusCode"],
                  "type": answer.get("type")}), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(script: str, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    total_s = time.perf_counter() - started
    child.wait(timeout=30)
    if not line:
        raise RuntimeError(f"the child process failed (exit {child.returncode})")
    report: dict[str, Any] = json.loads(line)
    report["total_s"] = total_s
    return report


def _sample(
    event_path: Path,
    ours_env: dict[str, str],
    floor_env: dict[str, str],
    waking_env: dict[str, str],
    reset_service: Callable[[], object],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One interleaved sample of each child, checked."""
    mine = _run(OURS, {**ours_env, "BENCH_EVENT": str(event_path)})
    theirs = _run(FLOOR, {**floor_env, "BENCH_EVENT": str(event_path)})
    reset_service()
    # The same interaction again: SQS drops it as a duplicate, the wake still runs.
    woken = _run(OURS, {**waking_env, "BENCH_EVENT": str(event_path)})
    if (mine["status"], mine["type"]) != (200, 5):
        raise RuntimeError(f"the Lambda did not defer the /play: {mine}")
    if (woken["status"], woken["type"]) != (200, 4):
        raise RuntimeError(f"the Lambda did not say a player is starting: {woken}")
    if (theirs["status"], theirs["type"]) != (200, 1):
        raise RuntimeError(f"the floor app did not answer: {theirs}")
    return mine, theirs, woken


def _state_table(endpoint: str) -> str:
    """The state table, created from the shared definition (imported here only: the children
    must not inherit shared.state)."""
    from shared.state.dynamodb_items import table_definition  # noqa: PLC0415

    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    dynamodb.create_table(**table_definition("bench-state"))
    return "bench-state"


def _worker_service(endpoint: str) -> str:
    """An ECS cluster with a Fargate-like service "workers" at desired 0; returns the cluster."""
    ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=endpoint)
    ecs.create_cluster(clusterName="bench")
    definition = ecs.register_task_definition(
        family="bench-worker",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[{"name": "worker", "image": "worker:bench", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="bench",
        serviceName="workers",
        taskDefinition=definition,
        desiredCount=0,
        launchType="FARGATE",
    )
    return "bench"


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def median_ms(key: str) -> float:
        return round(statistics.median(float(s[key]) for s in samples) * 1000, 1)

    return {
        "total_ms_median": median_ms("total_s"),
        "import_ms_median": median_ms("import_s"),
        "first_call_ms_median": median_ms("call_s"),
        "total_ms_samples": [round(s["total_s"] * 1000, 1) for s in samples],
    }


def main() -> int:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    aws = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(aws)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
        queue_url = sqs.create_queue(QueueName="bench-jobs.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        table = _state_table(endpoint)
        cluster = _worker_service(endpoint)
        ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=endpoint)
        key = SigningKey.generate()
        base_env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DISCORD_", "JOBS_", "AWS_", "GUILD_", "LOG_"))
        }
        ours_env = {
            **base_env,
            **aws,
            "PYTHONPATH": str(ROOT),
            "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
            "DISCORD_APPLICATION_ID": "1300000000000000001",
            "JOBS_QUEUE_URL": queue_url,
            "AWS_ENDPOINT_URL": endpoint,
        }
        waking_env = {
            **ours_env,
            "STATE_TABLE": table,
            "WORKER_CLUSTER": cluster,
            "WORKER_SERVICE": "workers",
        }
        floor_env = {**base_env, "PYTHONPATH": str(ROOT)}
        ours: list[dict[str, Any]] = []
        floor: list[dict[str, Any]] = []
        waking: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as tmp:
            event_path = Path(tmp) / "event.json"
            for run in range(args.runs + 1):  # run 0 warms the OS file cache, not counted
                body = encode(payload("play", id=str(1300000000000090000 + run)))
                stamp = str(int(time.time()))
                headers = {
                    "content-type": "application/json",
                    "x-signature-ed25519": key.sign(stamp.encode() + body).signature.hex(),
                    "x-signature-timestamp": stamp,
                }
                event_path.write_text(json.dumps(apigw_event(body, headers)))
                mine, theirs, woken = _sample(
                    event_path,
                    ours_env,
                    floor_env,
                    waking_env,
                    lambda: ecs.update_service(cluster=cluster, service="workers", desiredCount=0),
                )
                if run:
                    ours.append(mine)
                    floor.append(theirs)
                    waking.append(woken)
        depth = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    finally:
        server.stop()
    report = {
        "benchmark": "cold_start",
        "runs": args.runs,
        "python": sys.version.split()[0],
        "ours_lambda_play_to_sqs": _summary(ours),
        "floor_fastapi_mangum_ping": _summary(floor),
        "ours_lambda_play_waking_from_zero": _summary(waking),
        "messages_enqueued": int(depth),
        "goal_ratio": 1.3,
    }
    report["ratio"] = round(
        report["ours_lambda_play_to_sqs"]["total_ms_median"]
        / report["floor_fastapi_mangum_ping"]["total_ms_median"],
        3,
    )
    report["ratio_waking"] = round(
        report["ours_lambda_play_waking_from_zero"]["total_ms_median"]
        / report["floor_fastapi_mangum_ping"]["total_ms_median"],
        3,
    )
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
