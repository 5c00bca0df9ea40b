"""The Lambda handler end to end against moto's SQS server: what lands on the FIFO queue, and
what the user sees when the queue is missing, down, or silent."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from interactions import lambda_entry
from interactions.app import create_app
from interactions.bootstrap import build_job_sender
from interactions.sqs_sender import SqsHttpSender
from shared.jobs import PlayJob, decode_job
from shared.queue import InMemoryJobQueue, SqsJobQueue
from tests.fixtures_aws import MotoServer, _free_port
from tests.fixtures_interactions import (
    LambdaRuntime,
    Signer,
    assert_valid_callback,
    encode,
    make_settings,
    payload,
    signed_event,
)

QUEUE_DOWN = "Couldn't reach the music player, please try again."
# Every variable the front door reads, so the machine's environment cannot leak in.
_SETTINGS_ENV = (
    "DISCORD_BOT_TOKEN",
    "DISCORD_API_BASE",
    "GUILD_ALLOWLIST",
    "RATE_LIMIT_COMMANDS",
    "RATE_LIMIT_WINDOW_S",
    "MAX_BODY_BYTES",
    "MAX_QUERY_LENGTH",
    "ENQUEUE_TIMEOUT_S",
    "SIGNATURE_MAX_AGE_S",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
)

Invoke = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@pytest.fixture
async def lambda_container(
    monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> AsyncIterator[Callable[..., Invoke]]:
    """A fresh Lambda execution environment calling the real `handler`, configured by env only."""
    runtime = LambdaRuntime()

    def configure(**env: str) -> Invoke:
        for name in _SETTINGS_ENV:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        for name, value in env.items():
            monkeypatch.setenv(name, value)

        async def invoke(event: dict[str, Any]) -> dict[str, Any]:
            return await runtime.call(lambda_entry.handler, event, None)

        return invoke

    yield configure
    await runtime.call(lambda_entry.close_container)
    runtime.shutdown()


QueueLambda = Callable[..., Invoke]


@pytest.fixture
def queue_lambda(signer: Signer, lambda_container: Callable[..., Invoke]) -> QueueLambda:
    """A Lambda configured with the public key, the app id, a jobs queue URL and an AWS
    endpoint (any further variables as keywords)."""

    def configure(queue_url: str, endpoint_url: str, **env: str) -> Invoke:
        return lambda_container(
            DISCORD_PUBLIC_KEY=signer.public_key_hex,
            DISCORD_APPLICATION_ID="1300000000000000001",
            JOBS_QUEUE_URL=queue_url,
            AWS_ENDPOINT_URL=endpoint_url,
            **env,
        )

    return configure


def answer_of(result: dict[str, Any]) -> dict[str, Any]:
    assert result["statusCode"] == 200, result
    body: dict[str, Any] = json.loads(result["body"])
    assert_valid_callback(body)
    return body


def queue_depth(moto: MotoServer, queue_url: str) -> int:
    attributes = moto.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


async def test_signed_play_through_handler_lands_on_the_fifo_queue(
    moto_server: MotoServer, signer: Signer, queue_lambda: QueueLambda
) -> None:
    # GIVEN a Lambda configured with only the public key, app id, queue URL and AWS variables
    queue_url, _ = moto_server.create_fifo_queue()
    invoke = queue_lambda(queue_url, moto_server.endpoint_url)
    # WHEN Discord's PING, then a signed /play (base64 body, as API Gateway may send) arrive
    pong = await invoke(signed_event(signer, payload("ping")))
    played = await invoke(signed_event(signer, payload("play"), base64_body=True))
    # THEN PONG, then a deferred answer with the job already on the queue
    assert answer_of(pong) == {"type": 1}
    assert answer_of(played) == {"type": 5}
    [message] = moto_server.client("sqs").receive_message(
        QueueUrl=queue_url, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    assert message["Attributes"]["MessageGroupId"] == "1300000000000000100"
    assert message["Attributes"]["MessageDeduplicationId"] == "1300000000000001000"
    assert message["MessageAttributes"]["kind"]["StringValue"] == "play"
    job = decode_job(message["Body"])
    assert isinstance(job, PlayJob) and job.query == "never gonna give you up"


async def test_the_same_interaction_delivered_twice_is_enqueued_once(
    moto_server: MotoServer, signer: Signer, queue_lambda: QueueLambda
) -> None:
    # GIVEN a warm Lambda and a FIFO queue
    queue_url, _ = moto_server.create_fifo_queue()
    invoke = queue_lambda(queue_url, moto_server.endpoint_url)
    event = signed_event(signer, payload("play", id="1300000000000005000"))
    # WHEN the same signed interaction arrives twice (a retry)
    first, second = await invoke(event), await invoke(event)
    # THEN both are answered, and the queue holds one message
    assert answer_of(first) == answer_of(second) == {"type": 5}
    assert queue_depth(moto_server, queue_url) == 1


async def test_missing_queue_tells_the_user_to_try_again(
    moto_server: MotoServer, signer: Signer, queue_lambda: QueueLambda
) -> None:
    # GIVEN a queue URL of a queue that does not exist
    invoke = queue_lambda(
        f"{moto_server.endpoint_url}/123456789012/missing.fifo", moto_server.endpoint_url
    )
    # WHEN /play arrives
    body = answer_of(await invoke(signed_event(signer, payload("play"))))
    # THEN an ephemeral "try again" instead of a spinner
    assert body["type"] == 4 and body["data"]["flags"] == 64
    assert body["data"]["content"] == QUEUE_DOWN


async def test_unreachable_sqs_tells_the_user_to_try_again(
    signer: Signer, queue_lambda: QueueLambda
) -> None:
    # GIVEN an SQS endpoint where nothing listens
    port = _free_port()
    invoke = queue_lambda(
        f"http://127.0.0.1:{port}/123456789012/jobs.fifo", f"http://127.0.0.1:{port}"
    )
    body = answer_of(await invoke(signed_event(signer, payload("play"))))
    assert body["data"]["content"] == QUEUE_DOWN


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


async def test_silent_sqs_is_given_up_within_the_budget(
    signer: Signer, queue_lambda: QueueLambda, silent_server: int
) -> None:
    # GIVEN an SQS endpoint that accepts the connection but never answers, and a 0.5 s budget
    invoke = queue_lambda(
        f"http://127.0.0.1:{silent_server}/123456789012/jobs.fifo",
        f"http://127.0.0.1:{silent_server}",
        ENQUEUE_TIMEOUT_S="0.5",
    )
    # WHEN /play arrives
    started = time.monotonic()
    body = answer_of(await invoke(signed_event(signer, payload("play"))))
    # THEN the user hears back well within Discord's 3 s
    assert time.monotonic() - started < 1.5
    assert body["data"]["content"] == QUEUE_DOWN


async def test_sqs_going_down_between_invocations_is_reported_then_recovers(
    signer: Signer, queue_lambda: QueueLambda
) -> None:
    # GIVEN a warm Lambda whose SQS server (a private moto) then stops
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto = MotoServer(endpoint_url=f"http://127.0.0.1:{port}")
    queue_url, _ = moto.create_fifo_queue()
    invoke = queue_lambda(queue_url, moto.endpoint_url)
    try:
        first = await invoke(signed_event(signer, payload("play", id="1300000000000006001")))
        assert answer_of(first) == {"type": 5}
    finally:
        server.stop()
    # WHEN the next /play arrives
    second = answer_of(
        await invoke(signed_event(signer, payload("play", id="1300000000000006002")))
    )
    # THEN the user is told to try again
    assert second["data"]["content"] == QUEUE_DOWN


async def test_misconfigured_lambda_answers_503_without_a_trace(
    signer: Signer, lambda_container: Callable[..., Invoke]
) -> None:
    # GIVEN a public key that is not an Ed25519 key
    invoke = lambda_container(DISCORD_PUBLIC_KEY="not-a-key", DISCORD_APPLICATION_ID="1")
    # WHEN anything arrives
    result = await invoke(signed_event(signer, payload("ping")))
    # THEN 503 with a short JSON reason
    assert result["statusCode"] == 503
    assert json.loads(result["body"]) == {"error": "service misconfigured"}


async def test_import_reads_nothing_and_first_call_builds_once(
    signer: Signer, lambda_container: Callable[..., Invoke]
) -> None:
    # GIVEN the in-process queue (no JOBS_QUEUE_URL)
    invoke = lambda_container(
        DISCORD_PUBLIC_KEY=signer.public_key_hex, DISCORD_APPLICATION_ID="1", JOBS_QUEUE_URL=""
    )
    # WHEN two invocations arrive
    await invoke(signed_event(signer, payload("ping")))
    await invoke(signed_event(signer, payload("ping")))
    # THEN one container was built and kept
    assert lambda_entry._container.cache_info().currsize == 1
    assert lambda_entry._container.cache_info().misses == 1


def test_queue_backend_is_chosen_from_settings(signer: Signer) -> None:
    # GIVEN settings with and without a queue URL, and environments with and without keys
    base = make_settings(signer.public_key_hex)
    sqs = make_settings(signer.public_key_hex, jobs_queue_url="https://sqs.example/1/q.fifo")
    keys = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
    # THEN: no URL -> in-process; URL + static keys -> lean sender; URL alone -> aiobotocore
    assert isinstance(build_job_sender(base, {}), InMemoryJobQueue)
    assert isinstance(build_job_sender(sqs, keys), SqsHttpSender)
    assert isinstance(build_job_sender(sqs, {}), SqsJobQueue)


async def test_app_works_with_the_aiobotocore_queue_too(
    moto_server: MotoServer, signer: Signer
) -> None:
    # GIVEN the app on the workers' SQS backend
    queue_url, _ = moto_server.create_fifo_queue()
    queue = SqsJobQueue(queue_url, region=moto_server.region, endpoint_url=moto_server.endpoint_url)
    app = create_app(make_settings(signer.public_key_hex), queue)
    body = encode(payload("play"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        # WHEN /play arrives
        response = await client.post("/interactions", content=body, headers=signer.headers(body))
    await queue.aclose()
    # THEN the same message lands
    assert response.json() == {"type": 5}
    assert queue_depth(moto_server, queue_url) == 1
