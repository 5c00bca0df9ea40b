"""Routing seams: an injected state store for /queue and /nowplaying, and the request boundary
that turns a failing command into a polite answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from interactions.app import SOMETHING_WENT_WRONG, create_app
from interactions.commands.status import GuildStatus, StatusUnavailable
from shared.jobs import ControlJob, PlayJob
from shared.logs import configure_logging
from shared.queue import InMemoryJobQueue
from tests.fixtures_interactions import (
    Signer,
    assert_valid_callback,
    encode,
    make_settings,
    payload,
)


class StaticStatus:
    """A state store stand-in holding one guild's status."""

    def __init__(self, status: GuildStatus | None, *, broken: bool = False) -> None:
        self.status, self.broken = status, broken

    async def guild_status(self, guild_id: str) -> GuildStatus | None:
        if self.broken:
            raise StatusUnavailable("table unreachable")
        return self.status


class ExplodingQueue:
    """A queue with a bug: not a QueueUnavailable, an unexpected error."""

    async def send(self, job: PlayJob | ControlJob) -> None:
        raise RuntimeError("bug with " + job.interaction_token)

    async def aclose(self) -> None:
        return None


Post = Callable[[dict[str, Any]], Any]


@pytest.fixture
async def app_with(signer: Signer) -> AsyncIterator[Callable[..., Post]]:
    clients: list[httpx.AsyncClient] = []

    def build(**kwargs: Any) -> Post:
        queue = kwargs.pop("queue", None) or InMemoryJobQueue()
        app = create_app(make_settings(signer.public_key_hex), queue, **kwargs)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://testserver"
        )
        clients.append(client)

        async def post(data: dict[str, Any]) -> Any:
            body = encode(data)
            response = await client.post(
                "/interactions", content=body, headers=signer.headers(body)
            )
            assert response.status_code == 200
            assert_valid_callback(response.json())
            return response.json()

        return post

    yield build
    for client in clients:
        await client.aclose()


def command(name: str) -> dict[str, Any]:
    data = payload("help")
    data["data"]["name"] = name
    return data


async def test_queue_lists_now_playing_and_upcoming(app_with: Callable[..., Post]) -> None:
    # GIVEN a store that knows the guild's queue
    upcoming = tuple(f"Track {n}" for n in range(1, 13))
    post = app_with(status=StaticStatus(GuildStatus(now_playing="Intro", upcoming=upcoming)))
    # WHEN /queue arrives
    answer = await post(command("queue"))
    # THEN the first ten are listed and the rest counted, ephemerally
    text = answer["data"]["content"]
    assert answer["data"]["flags"] == 64
    assert text.splitlines()[0] == "Now: Intro"
    assert "10. Track 10" in text and "Track 11" not in text and "…and 2 more" in text


async def test_nowplaying_shows_paused_state(app_with: Callable[..., Post]) -> None:
    post = app_with(status=StaticStatus(GuildStatus(now_playing="Song", paused=True)))
    answer = await post(command("nowplaying"))
    assert answer["data"]["content"] == "Now playing: Song (paused)"


async def test_empty_guild_is_said_plainly(app_with: Callable[..., Post]) -> None:
    post = app_with(status=StaticStatus(None))
    assert (await post(command("queue")))["data"]["content"] == "The queue is empty."
    assert (await post(command("nowplaying")))["data"]["content"] == "Nothing is playing."


async def test_unreadable_store_degrades_to_a_message(app_with: Callable[..., Post]) -> None:
    post = app_with(status=StaticStatus(None, broken=True))
    answer = await post(command("nowplaying"))
    assert "can't see the player's state right now" in answer["data"]["content"]


async def test_failing_command_gets_an_ephemeral_apology_and_a_log_line(
    app_with: Callable[..., Post], capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    # GIVEN a queue with a bug, and JSON logs on stderr
    configure_logging(log_format="json")
    post = app_with(queue=ExplodingQueue())
    # WHEN /play arrives (with a token the log redactor would not recognise by its shape)
    answer = await post(payload("play", token="plain-secret-token-1234"))
    # THEN the user gets "something went wrong" (not a 500, not a spinner)
    assert answer == {
        "type": 4,
        "data": {"content": SOMETHING_WENT_WRONG, "flags": 64, "allowed_mentions": {"parse": []}},
    }
    # AND the failure is logged with its type and frames, but not its message (it had the token)
    err = capsys.readouterr().err
    assert '"event": "interaction.failed"' in err and "RuntimeError" in err
    assert "plain-secret-token-1234" not in err


async def test_root_path_and_health_route(signer: Signer) -> None:
    # GIVEN the app: Discord may be pointed at / or /interactions; /healthz is for `serve`
    app = create_app(make_settings(signer.public_key_hex), InMemoryJobQueue())
    body = encode(payload("ping"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        root = await client.post("/", content=body, headers=signer.headers(body))
        health = await client.get("/healthz")
        other = await client.post("/elsewhere", content=body, headers=signer.headers(body))
    assert root.json() == {"type": 1}
    assert health.json() == {"status": "ok"}
    assert other.status_code == 404
