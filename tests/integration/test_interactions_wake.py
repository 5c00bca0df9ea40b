"""Waking the worker service from zero after a /play, against moto's server (SQS, DynamoDB, ECS).

The front door is reached both ways (ASGI and Mangum); jobs go to a real FIFO queue; heartbeats
are written through shared.state's DynamoDB backend, as workers write them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interactions import wake
from interactions.commands.playback import PLAYER_STARTING
from shared.state import DynamoDbStateStore, WorkerHeartbeat
from shared.state import dynamodb_items as items
from tests.fixtures_aws import MotoServer
from tests.fixtures_interactions import (
    Answer,
    CredentialsEndpoint,
    Door,
    DoorFactory,
    Signer,
    payload,
    post_signed,
    signed_event,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fleet(moto_server: MotoServer) -> dict[str, str]:
    """A jobs queue, a state table and a worker service scaled to zero."""
    queue_url, _ = moto_server.create_fifo_queue()
    cluster, service = moto_server.create_worker_service(desired=0)
    return {
        "jobs_queue_url": queue_url,
        "state_table": moto_server.create_state_table(),
        "worker_cluster": cluster,
        "worker_service": service,
        "aws_endpoint_url": moto_server.endpoint_url,
    }


@pytest.fixture
async def store(
    moto_server: MotoServer, fleet: dict[str, str]
) -> AsyncIterator[DynamoDbStateStore]:
    state = DynamoDbStateStore(
        fleet["state_table"], region=moto_server.region, endpoint_url=moto_server.endpoint_url
    )
    yield state
    await state.aclose()


def desired(moto_server: MotoServer, fleet: dict[str, str]) -> int:
    return moto_server.desired_count(fleet["worker_cluster"], fleet["worker_service"])


def queued(moto_server: MotoServer, fleet: dict[str, str]) -> int:
    attributes = moto_server.client("sqs").get_queue_attributes(
        QueueUrl=fleet["jobs_queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


async def play(door: Door, signer: Signer) -> Answer:
    """A signed /play with a fresh interaction id, and the front door's answer."""
    data = payload("play", id=str(1300000000000005000 + uuid.uuid4().int % 10**6))
    return await post_signed(door, signer, data)


def heartbeat(expires_in_s: float) -> WorkerHeartbeat:
    now = datetime.now(UTC)
    return WorkerHeartbeat(
        worker_id=f"w-{uuid.uuid4().hex[:6]}",
        capacity=50,
        started_at=now - timedelta(minutes=5),
        expires_at=now + timedelta(seconds=expires_in_s),
    )


async def test_a_play_with_no_worker_alive_wakes_the_service(
    make_door: DoorFactory, signer: Signer, moto_server: MotoServer, fleet: dict[str, str]
) -> None:
    # GIVEN no worker heartbeat and the service at zero
    door = await make_door(**fleet)
    # WHEN /play arrives
    answer = await play(door, signer)
    # THEN the job is on the queue, one task is wanted, and the user is told (publicly, in the
    # message the worker will edit) that a player is starting
    assert answer.body == {
        "type": 4,
        "data": {"content": PLAYER_STARTING, "allowed_mentions": {"parse": []}},
    }
    assert queued(moto_server, fleet) == 1
    assert desired(moto_server, fleet) == 1
    # WHEN another /play comes while the task starts
    again = await play(door, signer)
    # THEN it is told the same, and nothing is added to the desired count
    assert again.body["data"]["content"] == PLAYER_STARTING
    assert desired(moto_server, fleet) == 1
    assert queued(moto_server, fleet) == 2


async def test_a_live_worker_means_no_wake(
    make_door: DoorFactory,
    signer: Signer,
    moto_server: MotoServer,
    fleet: dict[str, str],
    store: DynamoDbStateStore,
) -> None:
    # GIVEN a worker whose heartbeat is fresh
    await store.put_heartbeat(heartbeat(expires_in_s=60))
    door = await make_door(**fleet)
    # WHEN /play arrives / THEN the usual deferred answer, and the service is left alone
    assert (await play(door, signer)).body == {"type": 5}
    assert desired(moto_server, fleet) == 0
    assert queued(moto_server, fleet) == 1


async def test_an_expired_heartbeat_does_not_count(
    make_door: DoorFactory,
    signer: Signer,
    moto_server: MotoServer,
    fleet: dict[str, str],
    store: DynamoDbStateStore,
) -> None:
    # GIVEN only a heartbeat that expired (TTL has not deleted it yet)
    await store.put_heartbeat(heartbeat(expires_in_s=-5))
    door = await make_door(**fleet)
    assert (await play(door, signer)).body["data"]["content"] == PLAYER_STARTING
    assert desired(moto_server, fleet) == 1


async def test_a_service_already_starting_is_not_scaled_further(
    make_door: DoorFactory, signer: Signer, moto_server: MotoServer, fleet: dict[str, str]
) -> None:
    # GIVEN the service already wants two tasks, none of which has heartbeat yet
    moto_server.client("ecs").update_service(
        cluster=fleet["worker_cluster"], service=fleet["worker_service"], desiredCount=2
    )
    door = await make_door(**fleet)
    # THEN the user is told the player is starting, and the count stays 2
    assert (await play(door, signer)).body["data"]["content"] == PLAYER_STARTING
    assert desired(moto_server, fleet) == 2


async def test_a_failing_wake_never_fails_the_command(
    make_door: DoorFactory,
    signer: Signer,
    moto_server: MotoServer,
    fleet: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a service name ECS does not know
    door = await make_door(**{**fleet, "worker_service": "gone"})
    # WHEN /play arrives
    with caplog.at_level(logging.WARNING):
        answer = await play(door, signer)
    # THEN the plain deferred answer, the job queued, and the failure logged for the operator
    assert answer.body == {"type": 5}
    assert queued(moto_server, fleet) == 1
    assert desired(moto_server, fleet) == 0
    # (the Mangum door logs JSON lines to stderr as in Lambda, the ASGI one through logging)
    assert "workers.wake_failed" in caplog.text + "".join(capsys.readouterr())


async def test_an_unreachable_state_table_never_fails_the_command(
    make_door: DoorFactory, signer: Signer, moto_server: MotoServer, fleet: dict[str, str]
) -> None:
    door = await make_door(**{**fleet, "state_table": "no-such-table"})
    assert (await play(door, signer)).body == {"type": 5}
    assert queued(moto_server, fleet) == 1


async def test_no_wake_when_the_job_was_not_enqueued(
    make_door: DoorFactory, signer: Signer, moto_server: MotoServer, fleet: dict[str, str]
) -> None:
    # GIVEN a queue that does not exist
    missing_queue = fleet["jobs_queue_url"].replace("jobs-", "missing-")
    door = await make_door(**{**fleet, "jobs_queue_url": missing_queue})
    answer = await play(door, signer)
    # THEN the user is told to retry, and no worker is started for a job that isn't there
    assert answer.body["data"]["content"] == "Couldn't reach the music player, please try again."
    assert desired(moto_server, fleet) == 0


async def test_control_commands_do_not_wake(
    make_door: DoorFactory, signer: Signer, moto_server: MotoServer, fleet: dict[str, str]
) -> None:
    door = await make_door(**fleet)
    assert (await post_signed(door, signer, payload("skip"))).body == {"type": 5}
    assert desired(moto_server, fleet) == 0


async def test_waking_is_off_without_a_cluster(
    make_door: DoorFactory, signer: Signer, moto_server: MotoServer, fleet: dict[str, str]
) -> None:
    door = await make_door(**{**fleet, "worker_cluster": "", "worker_service": ""})
    assert (await play(door, signer)).body == {"type": 5}
    assert desired(moto_server, fleet) == 0


def test_the_heartbeat_layout_is_the_stores() -> None:
    # The waker reads heartbeat items without importing shared.state (cold start).
    assert wake.WORKERS_PK == items.WORKERS_PK
    assert wake.TTL_ATTRIBUTE == items.TTL_ATTRIBUTE


PROBE = """
import json, os, sys
import interactions.lambda_entry as entry
event = json.load(open(os.environ["PROBE_EVENT"]))
result = entry.handler(event, None)
print(json.dumps({"answer": json.loads(result["body"]),
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_a_cold_lambda_wakes_workers_without_botocore(
    moto_server: MotoServer, fleet: dict[str, str], signer: Signer, tmp_path: Path
) -> None:
    # GIVEN a fresh Lambda process configured for waking, and a signed /play event
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(signed_event(signer, payload("play"))))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DISCORD_"))},
        **{name.upper(): value for name, value in fleet.items()},
        "PYTHONPATH": str(ROOT),
        "PROBE_EVENT": str(event_path),
        "DISCORD_PUBLIC_KEY": signer.public_key_hex,
        "DISCORD_APPLICATION_ID": "1300000000000000001",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": moto_server.region,
    }
    # WHEN it handles the /play
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    # THEN it woke the service, having imported neither botocore nor aiobotocore
    assert report["answer"]["data"]["content"] == PLAYER_STARTING
    assert desired(moto_server, fleet) == 1
    assert not {"botocore", "aiobotocore", "boto3"} & set(report["modules"])


async def test_snapstart_credentials_from_the_container_endpoint(
    make_door: DoorFactory,
    signer: Signer,
    moto_server: MotoServer,
    fleet: dict[str, str],
    credentials_endpoint: CredentialsEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN no AWS_* keys, only the container credentials endpoint (as with SnapStart)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", credentials_endpoint.uri)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "snapstart-token")
    door = await make_door(**fleet)
    # WHEN /play arrives
    answer = await play(door, signer)
    # THEN the job was sent and the service woken with credentials fetched once, with the token
    assert answer.body["data"]["content"] == PLAYER_STARTING
    assert queued(moto_server, fleet) == 1
    assert desired(moto_server, fleet) == 1
    assert [r["authorization"] for r in credentials_endpoint.requests] == ["snapstart-token"] * len(
        credentials_endpoint.requests
    )
    assert 1 <= len(credentials_endpoint.requests) <= 2  # the queue's source, and the waker's
