"""Pytest plugin: a fake Discord on 127.0.0.1, and discord.py pointed at it.

Listed in ``tests/conftest.py`` ``pytest_plugins``. Fixtures (all function-scoped, async):
- ``fake_discord``: a started :class:`fake_discord.FakeDiscord` with one seeded guild.
- ``fake_discord_factory``: ``await fake_discord_factory(guilds=2, interactions_url=...)`` for
  custom options; every fake it made is stopped at teardown.
- ``discord_py_pointed``: ``fake_discord`` with discord.py's REST base and gateway URL pointed
  at it (restored afterwards).
- ``fake_discord_client``: a plain discord.py ``Client`` (intents guilds + voice_states) logged
  in and connected to ``discord_py_pointed``, with its guild cache filled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fake_discord.server import FakeDiscord

# Imports of fake_discord.server and discord happen inside the fixtures: this plugin is loaded
# by every test session, the Lambda-only ones included, and must not slow them down.
FakeFactory = Callable[..., Awaitable["FakeDiscord"]]


@pytest.fixture
async def fake_discord_factory() -> AsyncIterator[FakeFactory]:
    """Start fakes with custom options; all are stopped at teardown."""
    from fake_discord.server import FakeDiscord  # noqa: PLC0415

    started: list[FakeDiscord] = []

    async def make(*args: Any, **kwargs: Any) -> FakeDiscord:
        fake = FakeDiscord(*args, **kwargs)
        await fake.start()
        started.append(fake)
        return fake

    try:
        yield make
    finally:
        for fake in reversed(started):
            await fake.stop()


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with one seeded guild."""
    from fake_discord.server import FakeDiscord  # noqa: PLC0415

    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def discord_py_pointed(fake_discord: FakeDiscord) -> AsyncIterator[FakeDiscord]:
    """``fake_discord`` with discord.py's REST and gateway URLs pointed at it."""
    from fake_discord.pointing import pointed_at  # noqa: PLC0415

    with pointed_at(fake_discord.rest_base_url, fake_discord.gateway_url):
        yield fake_discord


async def start_discord_client(fake: FakeDiscord, **options: Any) -> tuple[Any, asyncio.Task[None]]:
    """Log a plain discord.py client in to ``fake`` and wait until its guilds are cached.

    discord.py must already be pointed at ``fake``. Returns the client and its run task.
    """
    import discord  # noqa: PLC0415

    from fake_discord.pointing import connector_for  # noqa: PLC0415

    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before
    # on_ready; the default 2 s only slows tests down.
    options.setdefault("guild_ready_timeout", 0.1)
    client = discord.Client(intents=intents, connector=connector_for(fake.ca_file), **options)
    task = asyncio.create_task(client.start(fake.bot_token))
    deadline = asyncio.get_running_loop().time() + 15
    while not client.is_ready():
        if task.done():
            task.result()  # raises the login/connect error
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("discord.py client did not become ready")
        await asyncio.sleep(0.02)
    return client, task


async def stop_discord_client(client: Any, task: asyncio.Task[None]) -> None:
    """Close a client started by :func:`start_discord_client`."""
    await client.close()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def fake_discord_client(discord_py_pointed: FakeDiscord) -> AsyncIterator[Any]:
    """A ready discord.py ``Client`` connected to the fake (see ``discord_py_pointed``)."""
    client, task = await start_discord_client(discord_py_pointed)
    try:
        yield client
    finally:
        await stop_discord_client(client, task)
