"""The front door's behaviour, each case reached in-process (ASGI) and through Mangum (Lambda),
with plain and base64-encoded API Gateway bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from interactions.app import create_app
from interactions.commands.definitions import registered_commands
from shared.jobs import ControlJob, LoopCommand, PlainCommand, PlayerCommandJob, PlayJob
from shared.queue import InMemoryJobQueue
from tests.fixtures_interactions import (
    DoorFactory,
    Signer,
    encode,
    make_settings,
    payload,
    post_signed,
    with_options,
)

EPHEMERAL = 64
PLAY_ID = "1300000000000001000"


def ephemeral_text(body: dict) -> str:  # type: ignore[type-arg]
    assert body["type"] == 4
    assert body["data"]["flags"] == EPHEMERAL
    return str(body["data"]["content"])


def renamed(fixture: str, name: str) -> dict[str, Any]:
    """A canned command interaction with its command's name replaced."""
    data = payload(fixture)
    data["data"]["name"] = name
    return data


def pressed(custom_id: str) -> dict[str, Any]:
    """The canned button press (same interaction id) on a button with this custom_id."""
    data = payload("button")
    data["data"]["custom_id"] = custom_id
    return data


def typed_into_play(value: str) -> dict[str, Any]:
    """The canned autocomplete of /play's query, with this text typed."""
    data = payload("play_autocomplete")
    data["data"]["options"][0]["value"] = value
    return data


# -- signature, size and shape ---------------------------------------------------------------


async def test_ping_gets_pong(make_door: DoorFactory, signer: Signer) -> None:
    # GIVEN Discord's endpoint check: a signed PING
    door = await make_door()
    # WHEN it arrives
    answer = await post_signed(door, signer, payload("ping"))
    # THEN the answer is PONG
    assert (answer.status, answer.body) == (200, {"type": 1})


@pytest.mark.parametrize(
    "tamper",
    [
        "missing_signature",
        "missing_timestamp",
        "non_hex_signature",
        "short_signature",
        "long_signature",
        "wrong_signature",
        "other_key",
        "body_changed",
        "timestamp_changed",
        "non_numeric_timestamp",
        "stale_timestamp",
        "future_timestamp",
    ],
)
async def test_every_bad_signature_is_refused_with_401(
    make_door: DoorFactory, signer: Signer, tamper: str
) -> None:
    # GIVEN a /play whose signature headers were tampered with in one way
    door = await make_door()
    body = encode(payload("play"))
    headers = signer.headers(body)
    good = headers["x-signature-ed25519"]
    if tamper == "missing_signature":
        del headers["x-signature-ed25519"]
    elif tamper == "missing_timestamp":
        del headers["x-signature-timestamp"]
    elif tamper == "non_hex_signature":
        headers["x-signature-ed25519"] = "zz" + good[2:]
    elif tamper == "short_signature":
        headers["x-signature-ed25519"] = good[:-2]
    elif tamper == "long_signature":
        headers["x-signature-ed25519"] = good + "00"
    elif tamper == "wrong_signature":
        headers["x-signature-ed25519"] = ("0" if good[0] != "0" else "1") + good[1:]
    elif tamper == "other_key":
        headers = Signer(type(signer.key).generate()).headers(body)
    elif tamper == "body_changed":
        body = body.replace(b"never gonna", b"always gonna")
    elif tamper == "timestamp_changed":
        headers["x-signature-timestamp"] = str(int(headers["x-signature-timestamp"]) + 1)
    elif tamper == "non_numeric_timestamp":
        headers = signer.headers(body, timestamp="12ab")
    elif tamper == "stale_timestamp":
        headers = signer.headers(body, timestamp="1000000000")  # 2001, correctly signed
    elif tamper == "future_timestamp":
        headers = signer.headers(body, timestamp="99999999999")
    # WHEN it arrives
    answer = await door.post(body, headers)
    # THEN it is refused with 401, and nothing was enqueued
    assert answer.status == 401
    assert answer.body == {"error": "invalid request signature"}
    assert await door.jobs() == []


async def test_oversized_body_is_refused_with_413(make_door: DoorFactory, signer: Signer) -> None:
    # GIVEN a correctly signed body over the 1 KiB cap
    door = await make_door(max_body_bytes=1024)
    data = payload("play")
    data["padding"] = "x" * 2048
    # WHEN it arrives
    answer = await post_signed(door, signer, data)
    # THEN 413, and nothing enqueued
    assert answer.status == 413
    assert await door.jobs() == []


async def test_lying_content_length_is_still_capped(signer: Signer) -> None:
    # GIVEN a request that claims to be small but streams more than the cap
    app = create_app(make_settings(signer.public_key_hex, max_body_bytes=1024), InMemoryJobQueue())
    data = payload("play", padding="x" * 4096)
    body = encode(data)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    headers = signer.headers(body)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        # WHEN it is streamed without a Content-Length
        response = await client.post("/interactions", content=chunks(), headers=headers)
    # THEN the count while reading catches it
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        *(b"not json", b"", b"[1, 2]", b'{"type": "two"}', b"\xff\xfe", b'{"id": "1"}'),
        b"[" * 5000 + b"]" * 5000,  # deeper than any parser's recursion: still a 400
    ],
    ids=["text", "empty", "array", "string_type", "not_utf8", "no_type", "deeply_nested"],
)
async def test_signed_non_interaction_is_refused_with_400(
    make_door: DoorFactory, signer: Signer, body: bytes
) -> None:
    # GIVEN a correctly signed body that is not an interaction
    door = await make_door()
    # WHEN it arrives
    answer = await door.post(body, signer.headers(body))
    # THEN 400 with a short reason, not a 500
    assert answer.status == 400
    assert answer.body == {"error": "malformed interaction"}


@pytest.mark.parametrize("kind", [5, 99, 0])
async def test_unknown_interaction_type_is_refused_with_400(
    make_door: DoorFactory, signer: Signer, kind: int
) -> None:
    # GIVEN a signed interaction of a type the bot never asks for (5 is a modal submit)
    door = await make_door()
    # WHEN it arrives / THEN 400
    answer = await post_signed(door, signer, payload("play", type=kind))
    assert answer.status == 400


# -- commands ------------------------------------------------------------------------------


async def test_play_is_enqueued_before_the_deferred_answer(
    make_door: DoorFactory, signer: Signer
) -> None:
    # GIVEN a signed /play in a guild
    door = await make_door()
    data = with_options(payload("play"), query="  never gonna\tgive you up ", next=True)
    # WHEN it arrives
    answer = await post_signed(door, signer, data)
    # THEN the answer is a deferred message, and the job is already on the queue
    assert (answer.status, answer.body) == (200, {"type": 5})
    [job] = await door.jobs()
    assert isinstance(job, PlayJob)
    assert job.job_id == PLAY_ID
    assert job.guild_id == "1300000000000000100"
    assert job.channel_id == "1300000000000000200"
    assert job.application_id == "1300000000000000001"
    assert job.query == "never gonna give you up"
    assert job.play_next is True
    assert job.interaction_token == payload("play")["token"]
    assert job.requester.user_id == "1300000000000000500"
    assert job.requester.display_name == "Ann"
    assert job.requester.role_ids == ("1300000000000000400",)
    assert job.requester.permissions == "2248473465835073"


@pytest.mark.parametrize("command", ["skip", "stop", "pause", "resume", "leave"])
async def test_controls_are_enqueued_as_control_jobs(
    make_door: DoorFactory, signer: Signer, command: str
) -> None:
    # GIVEN a signed control command
    door = await make_door()
    data = renamed("skip", command)
    # WHEN it arrives
    answer = await post_signed(door, signer, data)
    # THEN deferred, with a ControlJob of that kind on the queue
    assert answer.body == {"type": 5}
    [job] = await door.jobs()
    assert isinstance(job, ControlJob) and job.kind == command


async def test_help_answers_at_once_with_every_command(
    make_door: DoorFactory, signer: Signer
) -> None:
    # GIVEN /help
    door = await make_door()
    # WHEN it arrives
    answer = await post_signed(door, signer, payload("help"))
    # THEN an ephemeral embed lists every command, and nothing is enqueued
    assert answer.body["type"] == 4 and answer.body["data"]["flags"] == EPHEMERAL
    # grouped by category (one field each), every registered command listed once by its usage
    fields = answer.body["data"]["embeds"][0]["fields"]
    assert [f["name"] for f in fields] == [
        "Playback",
        "Queue",
        "Player",
        "Playlists & history",
        "Settings",
    ]
    listed = [line.split("`")[1].split()[0] for f in fields for line in f["value"].splitlines()]
    assert sorted(listed) == sorted(f"/{spec.name}" for spec in registered_commands())
    assert {"/play", "/skip", "/stop", "/queue", "/nowplaying", "/playlist", "/help"} <= set(listed)
    assert await door.jobs() == []


@pytest.mark.parametrize("command", ["queue", "nowplaying"])
async def test_state_commands_degrade_clearly_without_a_store(
    make_door: DoorFactory, signer: Signer, command: str
) -> None:
    # GIVEN no state store yet
    door = await make_door()
    data = renamed("help", command)
    # WHEN /queue or /nowplaying arrives
    answer = await post_signed(door, signer, data)
    # THEN an ephemeral "can't show that yet", not a spinner
    assert "can't show that yet" in ephemeral_text(answer.body)
    assert await door.jobs() == []


async def test_unknown_command_gets_a_polite_ephemeral(
    make_door: DoorFactory, signer: Signer
) -> None:
    door = await make_door()
    data = renamed("help", "karaoke")
    answer = await post_signed(door, signer, data)
    assert "don't know that command" in ephemeral_text(answer.body)


# -- gates ---------------------------------------------------------------------------------


async def test_guild_not_on_the_allowlist_is_refused(
    make_door: DoorFactory, signer: Signer
) -> None:
    # GIVEN an allowlist that does not include the guild
    door = await make_door(guild_allowlist=frozenset({"42"}))
    # WHEN /play arrives
    answer = await post_signed(door, signer, payload("play"))
    # THEN a clear refusal, nothing enqueued
    assert "isn't enabled for this server" in ephemeral_text(answer.body)
    assert await door.jobs() == []


async def test_guild_on_the_allowlist_is_served(make_door: DoorFactory, signer: Signer) -> None:
    door = await make_door(guild_allowlist=frozenset({"42", "1300000000000000100"}))
    answer = await post_signed(door, signer, payload("play"))
    assert answer.body == {"type": 5}
    assert len(await door.jobs()) == 1


async def test_dm_is_told_to_use_a_server(make_door: DoorFactory, signer: Signer) -> None:
    # GIVEN /play from a DM (no guild)
    door = await make_door()
    # WHEN it arrives / THEN "use this in a server", nothing enqueued
    answer = await post_signed(door, signer, payload("play_dm"))
    assert "Use this in a server" in ephemeral_text(answer.body)
    assert await door.jobs() == []


async def test_user_going_too_fast_is_slowed_down(make_door: DoorFactory, signer: Signer) -> None:
    # GIVEN a limit of 2 commands per 30 s
    door = await make_door(rate_limit_commands=2, rate_limit_window_s=30)
    answers = []
    # WHEN the same user sends 3 commands
    for n in range(3):
        data = payload("skip", id=f"13000000000000020{n:02d}")
        answers.append(await post_signed(door, signer, data))
    # THEN the third is refused with a wait, and only two jobs were enqueued
    assert [a.body["type"] for a in answers] == [5, 5, 4]
    text = ephemeral_text(answers[2].body)
    assert "going a bit fast" in text and "try again in 30 s" in text
    assert len(await door.jobs()) == 2


async def test_other_users_are_not_slowed_by_one_user(
    make_door: DoorFactory, signer: Signer
) -> None:
    door = await make_door(rate_limit_commands=1, rate_limit_window_s=30)
    first = payload("skip", id="1300000000000003001")
    second = payload("skip", id="1300000000000003002")
    second["member"]["user"]["id"] = "1300000000000000501"
    for data in (first, second):
        assert (await post_signed(door, signer, data)).body == {"type": 5}


# -- option validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("x" * 81, "too long"),
        ("   ", "Tell me what to play"),
        ("\u0000\u0007", "Tell me what to play"),
        ("file:///etc/passwd", "only play web links"),
        ("javascript:alert(1)", "only play web links"),
        ("data:text/html;base64,PHNjcmlwdD4=", "only play web links"),
        ("http://169.254.169.254/latest/meta-data/", "private addresses"),
        ("http://localhost:8080/x", "private addresses"),
        ("https://", "doesn't look right"),
    ],
)
async def test_bad_query_is_refused_before_enqueue(
    make_door: DoorFactory, signer: Signer, query: str, expected: str
) -> None:
    # GIVEN a /play with a query the bot must not pass on
    door = await make_door(max_query_length=80)
    # WHEN it arrives
    answer = await post_signed(door, signer, with_options(payload("play"), query=query))
    # THEN a polite ephemeral explanation, nothing enqueued
    assert expected in ephemeral_text(answer.body)
    assert await door.jobs() == []


async def test_control_characters_are_stripped_from_the_query(
    make_door: DoorFactory, signer: Signer
) -> None:
    door = await make_door()
    data = with_options(payload("play"), query="rick\u0000 astley\u200b\u202e")
    answer = await post_signed(door, signer, data)
    assert answer.body == {"type": 5}
    [job] = await door.jobs()
    assert isinstance(job, PlayJob) and job.query == "rick astley"


async def test_https_link_is_passed_on(make_door: DoorFactory, signer: Signer) -> None:
    door = await make_door()
    url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    data = with_options(payload("play"), query=url)
    assert (await post_signed(door, signer, data)).body == {"type": 5}
    [job] = await door.jobs()
    assert isinstance(job, PlayJob) and job.query == url


# -- autocomplete and components -----------------------------------------------------------


async def test_autocomplete_echoes_and_never_enqueues(
    make_door: DoorFactory, signer: Signer
) -> None:
    # GIVEN autocomplete while typing /play's query
    door = await make_door()
    # WHEN it arrives
    answer = await post_signed(door, signer, payload("play_autocomplete"))
    # THEN type 8 with the typed text as the one choice, and nothing on the queue
    assert answer.body == {
        "type": 8,
        "data": {"choices": [{"name": "never gonna", "value": "never gonna"}]},
    }
    assert await door.jobs() == []


async def test_autocomplete_of_a_long_url_fits_discord_limits(
    make_door: DoorFactory, signer: Signer
) -> None:
    # GIVEN a 320-character link typed into /play (Discord allows choice values of <= 100)
    door = await make_door()
    url = "https://example.com/" + "a" * 300
    data = typed_into_play(url)
    # WHEN autocomplete runs
    answer = await post_signed(door, signer, data)
    # THEN no choice is offered for it (a cut value would play something else; Discord submits
    # the typed text when the user sends without picking)
    assert answer.body == {"type": 8, "data": {"choices": []}}


async def test_autocomplete_echoes_a_link_of_exactly_the_value_limit(
    make_door: DoorFactory, signer: Signer
) -> None:
    door = await make_door()
    url = "https://example.com/" + "a" * 80
    assert len(url) == 100
    data = typed_into_play(url)
    answer = await post_signed(door, signer, data)
    [choice] = answer.body["data"]["choices"]
    assert len(choice["name"]) <= 100 and choice["value"] == url


@pytest.mark.parametrize("typed", ["", "javascript:alert(1)"])
async def test_autocomplete_offers_nothing_for_unusable_text(
    make_door: DoorFactory, signer: Signer, typed: str
) -> None:
    door = await make_door()
    data = typed_into_play(typed)
    answer = await post_signed(door, signer, data)
    assert answer.body == {"type": 8, "data": {"choices": []}}


async def test_autocomplete_is_not_rate_limited_and_not_counted(
    make_door: DoorFactory, signer: Signer
) -> None:
    # GIVEN a limit of one command per window
    door = await make_door(rate_limit_commands=1, rate_limit_window_s=30)
    # WHEN the user types (five autocompletes) then sends /play
    for n in range(5):
        data = payload("play_autocomplete", id=f"130000000000000400{n}")
        assert (await post_signed(door, signer, data)).body["type"] == 8
    # THEN the /play still goes through
    assert (await post_signed(door, signer, payload("play"))).body == {"type": 5}


@pytest.mark.parametrize("control", ["skip", "stop", "pause", "resume", "leave"])
async def test_player_button_enqueues_and_defers_the_update(
    make_door: DoorFactory, signer: Signer, control: str
) -> None:
    # GIVEN a press on a player button
    door = await make_door()
    data = pressed(f"player:{control}")
    # WHEN it arrives
    answer = await post_signed(door, signer, data)
    # THEN a deferred ephemeral reply (the worker answers the presser alone; the player
    # message the button sits on stays as it is), with the control job on the queue
    assert answer.body == {"type": 5, "data": {"flags": EPHEMERAL}}
    [job] = await door.jobs()
    assert isinstance(job, ControlJob) and job.kind == control
    assert job.job_id == data["id"]


@pytest.mark.parametrize(
    ("custom_id", "command"),
    [
        ("player:loop:track", LoopCommand(mode="track")),
        ("player:loop:queue", LoopCommand(mode="queue")),
        ("player:loop:off", LoopCommand(mode="off")),
        ("player:shuffle", PlainCommand(name="shuffle")),
    ],
)
async def test_loop_and_shuffle_buttons_enqueue_their_player_commands(
    make_door: DoorFactory, signer: Signer, custom_id: str, command: object
) -> None:
    # GIVEN a press on the now-playing message's Loop (carrying the mode to set) or Shuffle
    door = await make_door()
    data = pressed(custom_id)
    answer = await post_signed(door, signer, data)
    # THEN the player command is queued like /loop or /shuffle, answered privately
    assert answer.body == {"type": 5, "data": {"flags": EPHEMERAL}}
    [job] = await door.jobs()
    assert isinstance(job, PlayerCommandJob) and job.command == command


@pytest.mark.parametrize("custom_id", ["player:loop:forever", "player:loop", "player:skip:2"])
async def test_malformed_player_buttons_are_answered_not_enqueued(
    make_door: DoorFactory, signer: Signer, custom_id: str
) -> None:
    door = await make_door()
    data = pressed(custom_id)
    answer = await post_signed(door, signer, data)
    assert "doesn't do anything" in ephemeral_text(answer.body)
    assert await door.jobs() == []


async def test_unknown_button_is_answered_not_enqueued(
    make_door: DoorFactory, signer: Signer
) -> None:
    door = await make_door()
    data = pressed("player:selfdestruct")
    answer = await post_signed(door, signer, data)
    assert "doesn't do anything" in ephemeral_text(answer.body)
    assert await door.jobs() == []


async def test_button_in_a_refused_guild_is_refused(make_door: DoorFactory, signer: Signer) -> None:
    door = await make_door(guild_allowlist=frozenset({"42"}))
    answer = await post_signed(door, signer, payload("button"))
    assert "isn't enabled" in ephemeral_text(answer.body)
    assert await door.jobs() == []
