"""A lean client for AWS JSON-protocol APIs (SQS, DynamoDB, ECS): signed POSTs over asyncio streams.

Why not botocore here: importing it adds ~70 ms (aiobotocore ~0.3 s) to every cold start of the
Lambda, which makes a handful of calls (docs/architecture.md has the figures). Each client keeps
one HTTP/1.1 connection alive across warm invocations and sends one request at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from interactions.aws_sigv4 import sign_post

if TYPE_CHECKING:
    from interactions.aws_credentials import CredentialSource

_MAX_RESPONSE_BYTES = 1 << 20
_MAX_HEADER_LINES = 100


class AwsUnavailable(Exception):
    """The service could not be reached, or did not answer in HTTP/1.1."""


class AwsError(Exception):
    """The service answered with an error; `code` is its type name (never its message)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code


class HttpProtocolError(Exception):
    """The peer spoke something that is not HTTP/1.1."""


def default_endpoint(service: str, region: str) -> str:
    """The service's regional endpoint."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{service}.{region}.{suffix}"


def error_code(payload: bytes) -> str:
    """The error's type name (e.g. QueueDoesNotExist), never the message text."""
    try:
        parsed = json.loads(payload)
    except ValueError:
        return "unknown"
    code = parsed.get("__type", "unknown") if isinstance(parsed, dict) else "unknown"
    return str(code).rsplit("#", 1)[-1][:64]


class Connection:
    """One HTTP/1.1 connection: write a request, read one response (length or chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        """Close the socket (no wait)."""
        self.writer.close()

    async def exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send the request bytes; return status, lower-cased headers and body."""
        self.writer.write(request)
        await self.writer.drain()
        status_line = await self.reader.readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HttpProtocolError("not an HTTP/1.1 response")
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
                    raise HttpProtocolError("response too large")
                chunks.append(await self.reader.readexactly(size + 2))
            await self.reader.readline()  # the blank line after the last chunk
            return b"".join(chunk[:-2] for chunk in chunks)
        length = int(headers.get("content-length", "0"))
        if length > _MAX_RESPONSE_BYTES:
            raise HttpProtocolError("response too large")
        return await self.reader.readexactly(length)


class HttpEndpoint:
    """Where to connect for one base URL, and a kept-alive connection to it."""

    def __init__(self, base_url: str, *, connect_timeout_s: float = 1.0) -> None:
        endpoint = urlsplit(base_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError("an AWS endpoint must be an http(s) URL")
        self.tls = endpoint.scheme == "https"
        self.host = endpoint.hostname
        default_port = 443 if self.tls else 80
        self.port = endpoint.port or default_port
        self.host_header = self.host if self.port == default_port else f"{self.host}:{self.port}"
        self._connect_timeout_s = connect_timeout_s
        self._connection: Connection | None = None
        self._lock = asyncio.Lock()

    async def request(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """One exchange; raises AwsUnavailable when the endpoint can't be reached."""
        async with self._lock:
            # A kept-alive connection may have been closed by the server while the Lambda
            # was frozen: one retry on a fresh connection covers that.
            for attempt in (1, 2):
                connection, reused = self._connection, self._connection is not None
                self._connection = None
                try:
                    connection = connection or await self._connect()
                    status, headers, payload = await connection.exchange(request)
                except (OSError, EOFError, ValueError, HttpProtocolError) as exc:
                    if connection is not None:
                        connection.close()
                    if reused and attempt == 1:
                        continue
                    raise AwsUnavailable(f"unreachable ({type(exc).__name__})") from exc
                except BaseException:
                    # Cancelled mid-exchange: the connection's state is unknown, drop it.
                    if connection is not None:
                        connection.close()
                    raise
                if headers.get("connection", "").lower() == "close":
                    connection.close()
                else:
                    self._connection = connection
                return status, headers, payload
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> Connection:
        ssl_context: Any = None
        if self.tls:
            import ssl  # noqa: PLC0415 - only https endpoints need it

            ssl_context = ssl.create_default_context()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=ssl_context),
            timeout=self._connect_timeout_s,
        )
        return Connection(reader, writer)

    async def aclose(self) -> None:
        """Close the kept-alive connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()


class AwsJsonClient:
    """Calls one AWS JSON-protocol service (`X-Amz-Target: <prefix>.<Operation>`)."""

    def __init__(
        self,
        *,
        service: str,
        target_prefix: str,
        json_version: str,
        region: str,
        credentials: CredentialSource,
        endpoint_url: str | None = None,
        connect_timeout_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._target_prefix = target_prefix
        self._content_type = f"application/x-amz-json-{json_version}"
        self._region = region
        self._credentials = credentials
        self._endpoint = HttpEndpoint(
            endpoint_url or default_endpoint(service, region), connect_timeout_s=connect_timeout_s
        )
        self._clock = clock

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one operation; raises AwsError (an error answer) or AwsUnavailable."""
        body = json.dumps(params).encode()
        credentials = await self._credentials.get()
        headers = sign_post(
            host=self._endpoint.host_header,
            headers={
                "Content-Type": self._content_type,
                "X-Amz-Target": f"{self._target_prefix}.{operation}",
            },
            body=body,
            credentials=credentials,
            region=self._region,
            service=self._service,
            now=self._clock(),
        )
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST / HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        status, _, payload = await self._endpoint.request(request)
        if status != 200:
            raise AwsError(status, error_code(payload))
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError:
            raise AwsUnavailable("the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise AwsUnavailable("the answer is not a JSON object")
        return answer

    async def aclose(self) -> None:
        """Close the kept-alive connection."""
        await self._endpoint.aclose()
