"""Two `musicbot worker` processes, moto (SQS + DynamoDB), the fake Discord and its ear.

The fake Discord, the front door and moto run in the test process; the workers are real
subprocesses configured only through their environment, as in the cloud.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_discord.ear import EarReport
from fake_discord.interactions import InteractionRecord
from fake_discord.server import FakeDiscord
from interactions.bootstrap import bootstrap
from shared.queue.sqs import SqsJobQueue
from shared.state import DynamoDbStateStore
from tests.fixtures_audio import ToneServer
from tests.fixtures_aws import MotoServer
from voice_worker.demo import demo_settings
from voice_worker.demo_support import FrontDoorServer

MUSICBOT = Path(sys.executable).with_name("musicbot")
STEP_TIMEOUT_S = 30.0
LEASE_TTL_S = 3.0
HEARTBEAT_INTERVAL_S = 1.0
POSITION_SAVE_INTERVAL_S = 0.5
MAX_ATTEMPTS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(predicate: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    """Poll state outside this process (logs, queues) until the predicate holds."""
    for _ in range(int(timeout_s / 0.1)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


@dataclass
class WorkerProcess:
    """One `musicbot worker` subprocess and where its logs go."""

    worker_id: str
    process: asyncio.subprocess.Process
    health_port: int
    log_path: Path

    def events(self) -> list[dict[str, Any]]:
        """The worker's JSON log lines so far."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def event_names(self) -> list[str]:
        """Just the event names, in order."""
        return [str(event.get("event")) for event in self.events()]

    async def health(self) -> dict[str, Any]:
        """The worker's /health body."""
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{self.health_port}/health")
            body: dict[str, Any] = response.json()
            return body

    async def wait_ready(self, timeout_s: float = STEP_TIMEOUT_S) -> None:
        """Until /health says ready (the worker consumes from then on)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise AssertionError(f"worker {self.worker_id} exited: {self.tail()}")
            try:
                if (await self.health())["status"] == "ready":
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"worker {self.worker_id} never got ready: {self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        """The end of the worker's log, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:]


@dataclass
class Fleet:
    """The stack under test and the verbs the failover tests use."""

    fake: FakeDiscord
    moto: MotoServer
    tones: ToneServer
    queue_url: str
    dlq_url: str
    table: str
    state: DynamoDbStateStore
    log_dir: Path
    workers: dict[str, WorkerProcess] = field(default_factory=dict)

    @property
    def guild_id(self) -> str:
        """The one seeded guild."""
        return self.fake.guilds[0].guild_id

    def env(self, worker_id: str, health_port: int) -> dict[str, str]:
        """A worker's whole configuration, as the ECS task definition would give it."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "JOBS_", "WORKER_", "STATE_", "LEASE_"))
        }
        return {
            **base,
            "DISCORD_BOT_TOKEN": self.fake.bot_token,
            "DISCORD_APPLICATION_ID": self.fake.application_id,
            "DISCORD_API_BASE": self.fake.rest_base_url,
            "DISCORD_GATEWAY_URL": self.fake.gateway_url,
            "DISCORD_CA_FILE": self.fake.ca_file,
            "JOBS_QUEUE_URL": self.queue_url,
            "JOBS_DEAD_LETTER_QUEUE_URL": self.dlq_url,
            "STATE_TABLE": self.table,
            "AWS_ENDPOINT_URL": self.moto.endpoint_url,
            "AWS_REGION": self.moto.region,
            "ALLOW_PRIVATE_SOURCES": "true",
            "WORKER_ID": worker_id,
            "WORKER_HEALTH_PORT": str(health_port),
            "WORKER_GUILD_READY_TIMEOUT_S": "0.2",
            "WORKER_SHUTDOWN_GRACE_S": "3",
            "WORKER_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "LEASE_TTL_S": str(LEASE_TTL_S),
            "HEARTBEAT_INTERVAL_S": str(HEARTBEAT_INTERVAL_S),
            "POSITION_SAVE_INTERVAL_S": str(POSITION_SAVE_INTERVAL_S),
            "SOURCE_RESOLVE_TIMEOUT_S": "5",
            "WORKER_RECEIVE_WAIT_S": "1",
            "LOG_FORMAT": "json",
        }

    async def start_worker(self, worker_id: str, *, wait: bool = True) -> WorkerProcess:
        """Spawn `musicbot worker`; by default wait until it is ready."""
        port = _free_port()
        log_path = self.log_dir / f"worker-{worker_id}.log"
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                str(MUSICBOT),
                "worker",
                env=self.env(worker_id, port),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log_file,
            )
        worker = WorkerProcess(worker_id, process, port, log_path)
        self.workers[worker_id] = worker
        if wait:
            await worker.wait_ready()
        return worker

    async def start_two_workers(self) -> None:
        """Workers "a" and "b", both ready, and the seeded user in the voice channel."""
        await self.start_worker("a")
        await self.start_worker("b")
        self.fake.move_user()

    async def owner_and_other(self) -> tuple[str, str]:
        """The worker holding the guild's lease (one of "a" and "b"), and the other one."""
        owner = await self.owner()
        assert owner is not None and owner in ("a", "b")
        return owner, "b" if owner == "a" else "a"

    async def owner(self) -> str | None:
        """Which worker holds the guild's lease now."""
        lease = await self.state.get_lease(self.guild_id)
        return lease.owner if lease else None

    async def wait_owner(self, predicate: Callable[[str | None], bool]) -> str | None:
        """Until the lease holder satisfies the predicate."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            owner = await self.owner()
            if predicate(owner):
                return owner
            await asyncio.sleep(0.1)
        raise AssertionError("the lease never moved as expected")

    async def command(self, name: str, **options: Any) -> InteractionRecord:
        """A slash command through the front door; returns once the worker answered."""
        record = await self.fake.send_interaction(name=name, options=options or None)
        assert record.http_status == 200, record.http_error
        return await self.answered(record)

    async def answered(self, record: InteractionRecord) -> InteractionRecord:
        """Wait for the worker's answer to an interaction."""
        return await self.fake.wait_for_interaction(record.id, _answered, timeout_s=STEP_TIMEOUT_S)

    def heard(self, frequency: float) -> float:
        """Seconds of that tone over every voice connection of the guild so far."""
        return sum(r.seconds_at(frequency) for r in self.fake.ear_reports(self.guild_id))

    async def hear(self, frequency: float, seconds: float) -> None:
        """Until the ear heard the tone that long in total."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while self.heard(frequency) < seconds:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{frequency} Hz heard {self.heard(frequency)} s: {self.logs()}"
                )
            await asyncio.sleep(0.05)

    async def wait_silent(self, quiet_s: float = 1.0) -> list[EarReport]:
        """Until no packet arrived for quiet_s on any connection; the reports."""
        deadline = time.monotonic() + STEP_TIMEOUT_S * 2
        while time.monotonic() < deadline:
            reports = self.fake.ear_reports(self.guild_id)
            lasts = [r.last_packet_monotonic for r in reports if r.last_packet_monotonic]
            if lasts and time.monotonic() - max(lasts) >= quiet_s:
                return reports
            await asyncio.sleep(0.05)
        raise AssertionError("audio never stopped")

    def logs(self) -> str:
        """Every worker's log tail (failure messages)."""
        return "\n".join(f"--- {w}\n{p.tail(3000)}" for w, p in self.workers.items())

    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages in the DLQ now (received once with visibility 0, left there)."""
        sqs = self.moto.client("sqs")
        response = sqs.receive_message(
            QueueUrl=self.dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    async def stop_all(self) -> None:
        """SIGTERM every live worker, SIGKILL what does not stop."""
        for worker in self.workers.values():
            if worker.process.returncode is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers.values():
            try:
                await asyncio.wait_for(worker.process.wait(), 15)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()


def _answered(record: InteractionRecord) -> bool:
    original = record.original
    loading = original is not None and int(original.get("flags", 0)) & (1 << 7)
    return bool(record.followups) or bool(
        original is not None and not loading and original.get("content")
    )


def reply_of(record: InteractionRecord) -> str:
    """What the user ended up seeing."""
    if record.followups:
        return str(record.followups[-1].get("content", ""))
    return record.original_content or ""


@pytest.fixture
async def fleet(
    moto_server: MotoServer, tone_server: ToneServer, tmp_path: Path
) -> AsyncIterator[Fleet]:
    """moto queue + table, the fake Discord with HTTP interactions to the front door; no
    workers yet (tests start them)."""
    queue_url, dlq_url = moto_server.create_fifo_queue(max_receives=10)
    table = moto_server.create_state_table()
    fake = FakeDiscord(guilds=1)
    await fake.start()
    settings = demo_settings(fake).model_copy(
        update={
            "jobs_queue_url": queue_url,
            "aws_endpoint_url": moto_server.endpoint_url,
            "aws_region": moto_server.region,
        }
    )
    jobs = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    front_door = bootstrap(settings, queue=jobs, configure_logs=False)
    server = FrontDoorServer(front_door.app)
    await server.start()
    fake.interactions_url = server.url
    state = DynamoDbStateStore(
        table, region=moto_server.region, endpoint_url=moto_server.endpoint_url
    )
    fleet = Fleet(fake, moto_server, tone_server, queue_url, dlq_url, table, state, tmp_path)
    try:
        yield fleet
    finally:
        await fleet.stop_all()
        await server.stop()
        await jobs.aclose()
        await state.aclose()
        await fake.stop()
