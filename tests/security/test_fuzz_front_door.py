"""Fuzz the whole front door (the FastAPI app in-process, answers checked against Discord's
OpenAPI spec): hostile payloads never get a 5xx or reach the catch-all, and nothing without a
valid signature is ever enqueued."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from interactions.app import SOMETHING_WENT_WRONG
from shared.queue import InMemoryJobQueue
from tests.fixtures_interactions import AsgiDoor, Signer, make_settings
from tests.security.fuzzing import fuzz_settings
from tests.security.strategies import ANY_JSON, INTERACTIONS

SIGNER = Signer(SigningKey(b"\x33" * 32))
# Statuses a hostile but signed request may get: an answer, or a clear 4xx refusal.
CLEAN_STATUSES = {200, 400, 413}


class DoorRunner:
    """One front door and one event loop for a whole Hypothesis run (examples run in sequence)."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        settings = make_settings(
            SIGNER.public_key_hex, rate_limit_commands=10**9, max_body_bytes=64 * 1024
        )
        self.door = self.runner.run(self._open(settings))

    @staticmethod
    async def _open(settings: Any) -> AsgiDoor:
        return AsgiDoor(settings, InMemoryJobQueue())

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, list[Any]]:
        """Send one request; return the status, the JSON answer and the jobs it enqueued."""
        answer = self.runner.run(self.door.post(body, headers))
        jobs = self.runner.run(self.door.jobs())
        return answer.status, answer.body, jobs

    def close(self) -> None:
        self.runner.run(self.door.aclose())
        self.runner.close()


@pytest.fixture(scope="module")
def door() -> Iterator[DoorRunner]:
    runner = DoorRunner()
    yield runner
    runner.close()


def _assert_clean(status: int, body: Any) -> None:
    assert status in CLEAN_STATUSES, (status, body)
    # The boundary's catch-all answers 200 with this apology: reaching it is a bug.
    assert SOMETHING_WENT_WRONG not in json.dumps(body), body


@fuzz_settings()
@given(data=st.data())
def test_signed_hostile_payloads_get_clean_answers(door: DoorRunner, data: st.DataObject) -> None:
    payload = data.draw(st.one_of(INTERACTIONS, ANY_JSON), label="payload")
    body = json.dumps(payload, ensure_ascii=data.draw(st.booleans())).encode()
    status, answer, jobs = door.post(body, SIGNER.headers(body))
    _assert_clean(status, answer)
    if jobs:
        # A job exists only for a well-formed command or button, keyed by the interaction.
        assert status == 200 and answer["type"] in (5, 6)
        assert [job.job_id for job in jobs] == [payload["id"]]
        assert jobs[0].guild_id == payload["guild_id"]
        assert jobs[0].interaction_token == payload["token"]


@fuzz_settings()
@given(body=st.binary(max_size=4096))
def test_signed_garbage_bytes_get_clean_answers(door: DoorRunner, body: bytes) -> None:
    status, answer, jobs = door.post(body, SIGNER.headers(body))
    _assert_clean(status, answer)
    assert status == 200 or not jobs


FORGERIES = st.sampled_from(
    ["none", "random", "other_key", "body_changed", "timestamp_changed", "stale", "headers_only"]
)


@fuzz_settings()
@given(payload=INTERACTIONS, forgery=FORGERIES, noise=st.binary(min_size=64, max_size=64))
def test_nothing_is_enqueued_without_a_valid_signature(
    door: DoorRunner, payload: dict[str, Any], forgery: str, noise: bytes
) -> None:
    body = json.dumps(payload).encode()
    headers = SIGNER.headers(body)
    if forgery == "none":
        headers = {"content-type": "application/json"}
    elif forgery == "random":
        headers["x-signature-ed25519"] = noise.hex()
    elif forgery == "other_key":
        headers = Signer(SigningKey(noise[:32])).headers(body)
    elif forgery == "body_changed":
        body = body.replace(b"}", b" }", 1)
    elif forgery == "timestamp_changed":
        headers["x-signature-timestamp"] = str(int(headers["x-signature-timestamp"]) + 1)
    elif forgery == "stale":
        stale = str(int(headers["x-signature-timestamp"]) - 3600)
        headers = SIGNER.headers(body, timestamp=stale)
    elif forgery == "headers_only":
        headers.pop("x-signature-timestamp")
    status, answer, jobs = door.post(body, headers)
    # 413: a forged body over the cap is refused before its signature is even checked.
    assert status in (401, 413), (forgery, status, answer)
    assert jobs == []


def _control(name: str, **overrides: Any) -> dict[str, Any]:
    """A signed-shape command; the ids are overridden one at a time below."""
    payload: dict[str, Any] = {
        "id": "1300000000000009001",
        "application_id": "1300000000000009002",
        "type": 2,
        "token": "aW50ZXJhY3Rpb246ZnV6eg",
        "guild_id": "1300000000000009003",
        "channel_id": "1300000000000009004",
        "member": {"user": {"id": "1300000000000009005", "username": "u"}, "roles": []},
        "data": {"name": name, "options": []},
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize("name", ["skip", "stop", "clear"])
@pytest.mark.parametrize(
    "overrides",
    [
        {"channel_id": ":"},  # the long run's find: a job refused the id, the catch-all answered
        {"guild_id": "x1"},
        {"id": "1" * 21},
        {"application_id": "-1"},
        {"member": {"user": {"id": "me"}, "roles": []}},
    ],
    ids=["channel_id", "guild_id", "id", "application_id", "user_id"],
)
def test_ids_that_are_not_snowflakes_are_refused_not_apologised_for(
    door: DoorRunner, name: str, overrides: dict[str, Any]
) -> None:
    body = json.dumps(_control(name, **overrides)).encode()
    status, answer, jobs = door.post(body, SIGNER.headers(body))
    assert status == 400, answer
    _assert_clean(status, answer)
    assert jobs == []


def test_roles_that_are_not_snowflakes_are_ignored() -> None:
    # A role id that is no snowflake can match no DJ role: dropped, the command goes on.
    runner = DoorRunner()
    try:
        member = {"user": {"id": "1300000000000009005"}, "roles": ["dj", "1300000000000009006"]}
        body = json.dumps(_control("skip", member=member)).encode()
        status, answer, jobs = runner.post(body, SIGNER.headers(body))
        _assert_clean(status, answer)
        assert [job.requester.role_ids for job in jobs] == [("1300000000000009006",)]
    finally:
        runner.close()
