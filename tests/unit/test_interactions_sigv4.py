"""The lean SQS sender: its SigV4 signature equals botocore's, its message equals the workers'
backend's, and its HTTP client copes with chunked answers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from interactions.aws_sigv4 import AwsCredentials, sign_post
from interactions.sqs_sender import SqsHttpSender, default_endpoint, send_message_body
from shared.jobs import PlayJob, Requester
from shared.queue.base import QueueUnavailable
from shared.queue.sqs import send_params

WHEN = datetime(2026, 3, 10, 15, 30, 0, tzinfo=UTC)
JOB = PlayJob(
    job_id="1300000000000001000",
    guild_id="1300000000000000100",
    channel_id="1300000000000000200",
    application_id="1300000000000000001",
    interaction_token="tok",
    requester=Requester(user_id="1300000000000000500"),
    query="song",
)


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEBYaDEXAMPLE"])
@pytest.mark.parametrize("host", ["sqs.eu-west-1.amazonaws.com", "127.0.0.1:5000"])
def test_signature_matches_botocore(
    monkeypatch: pytest.MonkeyPatch, token: str | None, host: str
) -> None:
    # GIVEN the same request, credentials and clock
    body = json.dumps(send_message_body(JOB, "https://q")).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.SendMessage",
    }
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    scheme = "http" if host.startswith("127.") else "https"
    request = AWSRequest(method="POST", url=f"{scheme}://{host}/", data=body, headers=headers)
    SigV4Auth(Credentials("AKIDEXAMPLE", secret, token), "sqs", "eu-west-1").add_auth(request)
    # WHEN we sign it ourselves
    ours = sign_post(
        host=host,
        headers=headers,
        body=body,
        credentials=AwsCredentials("AKIDEXAMPLE", secret, token),
        region="eu-west-1",
        service="sqs",
        now=WHEN,
    )
    # THEN the Authorization header is byte for byte botocore's
    assert ours["authorization"] == request.headers["Authorization"]


def test_message_is_the_same_as_the_workers_backend_sends() -> None:
    assert send_message_body(JOB, "https://q") == send_params(JOB, "https://q")


def test_credentials_from_environment() -> None:
    assert AwsCredentials.from_environ({}) is None
    assert AwsCredentials.from_environ({"AWS_ACCESS_KEY_ID": "a"}) is None
    creds = AwsCredentials.from_environ(
        {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_SESSION_TOKEN": "c"}
    )
    assert creds == AwsCredentials("a", "b", "c")
    assert "b" not in repr(creds) and "'c'" not in repr(creds)


def test_default_endpoints() -> None:
    assert default_endpoint("eu-west-1") == "https://sqs.eu-west-1.amazonaws.com"
    assert default_endpoint("cn-north-1") == "https://sqs.cn-north-1.amazonaws.com.cn"


async def _serve_once(answer: bytes) -> tuple[asyncio.Server, int, list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        seen.append(head + await reader.readexactly(length))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


async def test_chunked_error_answer_becomes_queue_unavailable() -> None:
    # GIVEN an SQS-like server answering 400 with a chunked JSON error
    error = b'{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}'
    answer = (
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(error):x}\r\n".encode()
        + error
        + b"\r\n0\r\n\r\n"
    )
    server, port, seen = await _serve_once(answer)
    sender = SqsHttpSender(
        "https://q",
        region="us-east-1",
        credentials=AwsCredentials("a", "b"),
        endpoint_url=f"http://127.0.0.1:{port}",
    )
    # WHEN a job is sent
    with pytest.raises(QueueUnavailable, match="QueueDoesNotExist"):
        await sender.send(JOB)
    await sender.aclose()
    server.close()
    await server.wait_closed()
    # THEN the request was a signed SendMessage
    assert b"x-amz-target: AmazonSQS.SendMessage\r\n" in seen[0]
    assert b"authorization: AWS4-HMAC-SHA256 Credential=a/" in seen[0]


async def test_garbage_answer_becomes_queue_unavailable() -> None:
    server, port, _ = await _serve_once(b"SSH-2.0-OpenSSH_9.6\r\n")
    sender = SqsHttpSender(
        "https://q",
        region="us-east-1",
        credentials=AwsCredentials("a", "b"),
        endpoint_url=f"http://127.0.0.1:{port}",
    )
    with pytest.raises(QueueUnavailable):
        await sender.send(JOB)
    await sender.aclose()
    server.close()
    await server.wait_closed()


def test_endpoint_must_be_http() -> None:
    with pytest.raises(ValueError):
        SqsHttpSender("q", region="r", credentials=AwsCredentials("a", "b"), endpoint_url="ftp://x")
