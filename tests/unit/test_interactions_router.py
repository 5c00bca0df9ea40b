"""The request boundary that turns a failing command into a polite answer.

/queue and /nowplaying over a real store are in tests/integration/test_interactions_state.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from interactions.app import SOMETHING_WENT_WRONG, create_app
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
