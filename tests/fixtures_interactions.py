"""Fixtures for the interactions front door: a signing key, canned payloads and events, and
the app reached two ways (ASGI in-process, and Mangum inside a Lambda-like thread)."""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest
import structlog
from nacl.signing import SigningKey

from fake_discord.spec import OpenApiSpec, RouteMatch
from interactions.app import create_app
from interactions.bootstrap import build_job_sender, build_store, build_waker
from interactions.lambda_entry import Container, build_container
from shared.jobs import AnyJob
from shared.queue import InMemoryJobQueue
from shared.settings import Settings

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
EVENTS = HERE / "events"

T = TypeVar("T")


# -- payloads and signatures ----------------------------------------------------------------


def payload(name: str, **overrides: Any) -> dict[str, Any]:
    """A canned interaction from tests/fixtures/interaction_<name>.json, top-level keys replaced."""
    data: dict[str, Any] = json.loads((FIXTURES / f"interaction_{name}.json").read_text())
    data.update(overrides)
    return data


def with_options(data: dict[str, Any], **values: Any) -> dict[str, Any]:
    """The payload with its command options replaced (name=value, string/boolean types)."""
    data = copy.deepcopy(data)
    data["data"]["options"] = [
        {"name": name, "type": 5 if isinstance(value, bool) else 3, "value": value}
        for name, value in values.items()
    ]
    return data


def command(name: str, /, *, subcommand: str | None = None, **values: Any) -> dict[str, Any]:
    """A slash command payload (the /help fixture renamed) with typed options.

    Option types follow the values: bool 5, int 4, float 10, anything else 3 (string). With
    subcommand, the options sit under a SUB_COMMAND option, as Discord nests them.
    """
    data = payload("help", id=str(1300000000000002000 + _next_id()))
    options = [
        {"name": key, "type": _option_type(value), "value": value} for key, value in values.items()
    ]
    if subcommand is not None:
        options = [{"name": subcommand, "type": 1, "options": options}]
    data["data"] = {"id": "1300000000000000301", "name": name, "type": 1, "options": options}
    return data


def button(custom_id: str) -> dict[str, Any]:
    """A button press (the player:pause fixture with another custom_id, a fresh id)."""
    data = payload("button", id=str(1300000000000003000 + _next_id()))
    data["data"] = {"component_type": 2, "custom_id": custom_id}
    return data


def as_member(data: dict[str, Any], *, roles: list[str], permissions: str) -> dict[str, Any]:
    """The same interaction sent by a member with these roles and computed permissions."""
    data = copy.deepcopy(data)
    data["member"]["roles"] = roles
    data["member"]["permissions"] = permissions
    return data


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _next_id() -> int:
    # A fresh interaction id each time: SQS and the queue drop a repeated id as a duplicate.
    return secrets.randbelow(10**12)


def encode(data: dict[str, Any]) -> bytes:
    """Compact JSON, as Discord sends it."""
    return json.dumps(data, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Signer:
    """Plays Discord's part: signs timestamp + body with the application's private key."""

    key: SigningKey

    @property
    def public_key_hex(self) -> str:
        return self.key.verify_key.encode().hex()

    def headers(self, body: bytes, *, timestamp: str | None = None) -> dict[str, str]:
        stamp = timestamp if timestamp is not None else str(int(time.time()))
        signature = self.key.sign(stamp.encode() + body).signature.hex()
        return {
            "content-type": "application/json",
            "x-signature-ed25519": signature,
            "x-signature-timestamp": stamp,
        }


@pytest.fixture
def signer() -> Signer:
    """A fresh Ed25519 key pair standing in for the Discord application's."""
    return Signer(SigningKey.generate())


def make_settings(public_key_hex: str, **overrides: Any) -> Settings:
    """Settings for the front door, independent of the machine's environment."""
    values: dict[str, Any] = {
        "discord_public_key": public_key_hex,
        "discord_application_id": "1300000000000000001",
        "jobs_queue_url": "",
        "aws_endpoint_url": "",
        "guild_allowlist": frozenset(),
        "rate_limit_commands": 100,
        "rate_limit_window_s": 10.0,
        "log_format": "json",
        # No shared store unless a test asks for one (a table, or a real SQLite file).
        "sqlite_path": ":memory:",
        # Other test suites share this machine: a slow moto answer must not read as an outage.
        "store_timeout_s": 2.5,
    }
    values.update(overrides)
    return Settings(**values)


def apigw_event(
    body: bytes, headers: dict[str, str], *, base64_body: bool = False
) -> dict[str, Any]:
    """The canned API Gateway HTTP API v2 event carrying this request."""
    event: dict[str, Any] = json.loads((EVENTS / "apigw_http_v2_interaction.json").read_text())
    event["headers"].update(headers)
    event["headers"]["content-length"] = str(len(body))
    try:
        text = body.decode()
    except UnicodeDecodeError:
        base64_body = True  # API Gateway base64-encodes what is not text
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = text, False
    return event


def signed_event(signer: Signer, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The API Gateway event carrying this interaction, signed (``kwargs`` as for apigw_event)."""
    body = encode(data)
    return apigw_event(body, signer.headers(body), **kwargs)


# -- Discord's OpenAPI spec -----------------------------------------------------------------


@functools.cache
def discord_spec() -> OpenApiSpec:
    """Discord's official OpenAPI spec (copied into fake_discord/data), loaded once."""
    spec = OpenApiSpec()
    spec.load()
    return spec


def spec_errors(method: str, path: str, body: Any) -> dict[str, Any]:
    """Discord-shaped validation errors of a request body (empty when Discord would take it)."""
    spec = discord_spec()
    match = spec.match(method, path)
    assert isinstance(match, RouteMatch), f"{method} {path} is not in Discord's API"
    return spec.validate_body(match.operation, "application/json", body)


def assert_valid_callback(body: Any) -> None:
    """The body is a valid `POST /interactions/{id}/{token}/callback` request for Discord."""
    errors = spec_errors("POST", "/interactions/1300000000000001000/token/callback", body)
    assert errors == {}, errors


# -- the front door, two ways ---------------------------------------------------------------


@dataclass
class Answer:
    """The HTTP answer the front door gave."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Door(Protocol):
    """The front door as a test sees it."""

    async def post(self, body: bytes, headers: dict[str, str]) -> Answer: ...

    async def jobs(self) -> list[AnyJob]: ...


async def post_signed(door: Door, signer: Signer, data: dict[str, Any]) -> Answer:
    """Post the interaction as Discord does: compact JSON, signed with the application's key."""
    body = encode(data)
    return await door.post(body, signer.headers(body))


def _decode(status: int, raw: bytes, headers: dict[str, str]) -> Answer:
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw
    if status == 200:
        # Every answer to Discord is a request Discord must accept.
        assert_valid_callback(body)
    return Answer(status, body, headers)


async def _drain(queue: InMemoryJobQueue) -> list[AnyJob]:
    jobs: list[AnyJob] = []
    while batch := await queue.receive(wait_s=0):
        for delivery in batch:
            assert delivery.job is not None
            jobs.append(delivery.job)
            await queue.ack(delivery)
    return jobs


class AsgiDoor:
    """The FastAPI app through httpx's ASGI transport."""

    def __init__(self, settings: Settings, queue: Any) -> None:
        self.queue = queue
        # The store and the waker are chosen from settings, as bootstrap does.
        self.store = build_store(settings)
        self.waker = build_waker(settings)
        self.app = create_app(settings, queue, store=self.store, waker=self.waker)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://testserver"
        )

    async def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        response = await self.client.post("/interactions", content=body, headers=headers)
        return _decode(response.status_code, response.content, dict(response.headers))

    async def jobs(self) -> list[AnyJob]:
        assert isinstance(self.queue, InMemoryJobQueue)
        return await _drain(self.queue)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.queue.aclose()
        if self.store is not None:
            await self.store.aclose()
        if self.waker is not None:
            await self.waker.aclose()


class LambdaRuntime:
    """One Lambda execution environment: the handler always runs on the same thread."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


class LambdaDoor:
    """The same app behind the real Mangum adapter, fed API Gateway HTTP API v2 events."""

    def __init__(self, runtime: LambdaRuntime, container: Container, *, base64_body: bool) -> None:
        self.runtime = runtime
        self.container = container
        self.base64_body = base64_body

    async def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        event = apigw_event(body, headers, base64_body=self.base64_body)
        result = await self.runtime.call(self.container.adapter, event, None)
        raw = result.get("body", "")
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        return _decode(result["statusCode"], data, result.get("headers", {}))

    async def jobs(self) -> list[AnyJob]:
        queue = self.container.front_door.queue
        assert isinstance(queue, InMemoryJobQueue)
        return await self.runtime.call(self.container.loop.run_until_complete, _drain(queue))

    async def aclose(self) -> None:
        def close() -> None:
            loop = self.container.loop
            loop.run_until_complete(self.container.front_door.aclose())
            asyncio.set_event_loop(None)
            loop.close()

        await self.runtime.call(close)
        self.runtime.shutdown()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo configure_logging (bootstrap calls it) so tests do not leak log config."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


# -- the container credentials endpoint (SnapStart, ECS) ---------------------------------------

CREDENTIALS_EXPIRY = "2030-01-01T00:00:00Z"


@dataclass
class CredentialsEndpoint:
    """A container credentials endpoint on 127.0.0.1 handing out numbered credentials."""

    port: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    status: int = 200

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/credentials?id=1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        headers: dict[str, str] = {"request": request_line.strip()}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        self.requests.append(headers)
        body = json.dumps(
            {
                "AccessKeyId": f"ASIA{len(self.requests)}",
                "SecretAccessKey": "secret",
                "Token": "session",
                "Expiration": CREDENTIALS_EXPIRY,
            }
        ).encode()
        writer.write(
            f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def credentials_endpoint() -> AsyncIterator[CredentialsEndpoint]:
    served = CredentialsEndpoint()
    server = await asyncio.start_server(served.handle, "127.0.0.1", 0)
    served.port = server.sockets[0].getsockname()[1]
    yield served
    server.close()
    await server.wait_closed()


DoorFactory = Callable[..., Awaitable[Door]]


@pytest.fixture(params=["asgi", "lambda", "lambda-base64"])
async def make_door(
    request: pytest.FixtureRequest, signer: Signer, restore_logging: None
) -> AsyncIterator[DoorFactory]:
    """Build the front door with settings overrides, reached in-process or through Mangum."""
    opened: list[AsgiDoor | LambdaDoor] = []

    async def factory(**overrides: Any) -> Door:
        settings = make_settings(signer.public_key_hex, **overrides)
        door: AsgiDoor | LambdaDoor
        if request.param == "asgi":
            # SQS when the settings name a queue (moto), as bootstrap would choose.
            queue = build_job_sender(settings) if settings.jobs_queue_url else InMemoryJobQueue()
            door = AsgiDoor(settings, queue)
        else:
            runtime = LambdaRuntime()
            container = await runtime.call(build_container, settings)
            door = LambdaDoor(runtime, container, base64_body=request.param == "lambda-base64")
        opened.append(door)
        return door

    yield factory
    for door in opened:
        await door.aclose()
