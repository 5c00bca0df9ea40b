"""A send-only SQS FIFO client for the Lambda: one signed JSON POST over a kept-alive connection.

Why not aiobotocore here: importing it and creating its client costs ~0.4 s of every cold start,
against Discord's 3 s deadline, to make one SendMessage call. The message is the same as
shared.queue.sqs.send_params builds (a test holds the two together); workers keep aiobotocore.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import structlog

from interactions.aws_sigv4 import AwsCredentials, sign_post
from shared.jobs import ControlJob, PlayJob, encode_job
from shared.queue.base import QueueUnavailable

log = structlog.get_logger(__name__)

_TARGET = "AmazonSQS.SendMessage"
_CONTENT_TYPE = "application/x-amz-json-1.0"
_MAX_RESPONSE_BYTES = 1 << 20
_MAX_HEADER_LINES = 100


def default_endpoint(region: str) -> str:
    """SQS's regional endpoint."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}"


def send_message_body(job: PlayJob | ControlJob, queue_url: str) -> dict[str, Any]:
    """SendMessage's JSON input: group = guild (order per guild), dedup = interaction id."""
    return {
        "QueueUrl": queue_url,
        "MessageBody": encode_job(job),
        "MessageGroupId": job.guild_id,
        "MessageDeduplicationId": job.job_id,
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": job.kind},
            "schema_version": {"DataType": "Number", "StringValue": str(job.schema_version)},
        },
    }


class _HttpError(Exception):
    """The connection failed or the server spoke something that is not HTTP/1.1."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(request)
        await self.writer.drain()
        status_line = await self.reader.readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise _HttpError("not an HTTP/1.1 response")
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADER_LINES):
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers, await self._body(headers)

    async def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while size := int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16):
                total += size
                if total > _MAX_RESPONSE_BYTES:
                    raise _HttpError("response too large")
                chunks.append(await self.reader.readexactly(size + 2))
            await self.reader.readline()  # the blank line after the last chunk
            return b"".join(chunk[:-2] for chunk in chunks)
        length = int(headers.get("content-length", "0"))
        if length > _MAX_RESPONSE_BYTES:
            raise _HttpError("response too large")
        return await self.reader.readexactly(length)


class SqsHttpSender:
    """Sends jobs to an SQS FIFO queue with SigV4-signed HTTP/1.1 POSTs (JSON protocol).

    One connection, reused across warm invocations, one request at a time. Callers bound the
    wait (asyncio.wait_for); a cancelled request drops its connection.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        region: str,
        credentials: AwsCredentials,
        endpoint_url: str | None = None,
        connect_timeout_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        endpoint = urlsplit(endpoint_url or default_endpoint(region))
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError("the SQS endpoint must be an http(s) URL")
        self._queue_url = queue_url
        self._region = region
        self._credentials = credentials
        self._tls = endpoint.scheme == "https"
        self._host = endpoint.hostname
        self._port = endpoint.port or (443 if self._tls else 80)
        default_port = 443 if self._tls else 80
        self._host_header = (
            self._host if self._port == default_port else f"{self._host}:{self._port}"
        )
        self._connect_timeout_s = connect_timeout_s
        self._clock = clock
        self._connection: _Connection | None = None
        self._lock = asyncio.Lock()

    async def send(self, job: PlayJob | ControlJob) -> None:
        """Enqueue the job; SQS drops a repeat of the same job id within 5 minutes."""
        body = json.dumps(send_message_body(job, self._queue_url)).encode()
        status, payload = await self._post(body)
        if status == 200:
            return
        error = _error_code(payload)
        log.warning("queue.send_failed", status=status, error=error, **job.log_fields())
        raise QueueUnavailable(f"SQS refused the job ({status} {error})")

    async def _post(self, body: bytes) -> tuple[int, bytes]:
        headers = sign_post(
            host=self._host_header,
            headers={"Content-Type": _CONTENT_TYPE, "X-Amz-Target": _TARGET},
            body=body,
            credentials=self._credentials,
            region=self._region,
            service="sqs",
            now=self._clock(),
        )
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST / HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        async with self._lock:
            # A kept-alive connection may have been closed by the server while the Lambda
            # was frozen: one retry on a fresh connection covers that.
            for attempt in (1, 2):
                connection, reused = self._connection, self._connection is not None
                self._connection = None
                try:
                    connection = connection or await self._connect()
                    status, response_headers, payload = await connection.exchange(request)
                except (OSError, EOFError, ValueError, _HttpError) as exc:
                    if connection is not None:
                        connection.close()
                    if reused and attempt == 1:
                        continue
                    raise QueueUnavailable(f"SQS unreachable ({type(exc).__name__})") from exc
                except BaseException:
                    # Cancelled mid-exchange: the connection's state is unknown, drop it.
                    if connection is not None:
                        connection.close()
                    raise
                if response_headers.get("connection", "").lower() == "close":
                    connection.close()
                else:
                    self._connection = connection
                return status, payload
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> _Connection:
        ssl_context: Any = None
        if self._tls:
            import ssl  # noqa: PLC0415 - only https endpoints need it

            ssl_context = ssl.create_default_context()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self._host, self._port, ssl=ssl_context),
            timeout=self._connect_timeout_s,
        )
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        """Close the kept-alive connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()


def _error_code(payload: bytes) -> str:
    """The error's type name (e.g. QueueDoesNotExist), never the message text."""
    try:
        parsed = json.loads(payload)
    except ValueError:
        return "unknown"
    code = parsed.get("__type", "unknown") if isinstance(parsed, dict) else "unknown"
    return str(code).rsplit("#", 1)[-1][:64]
