"""The now-playing message survives a handover: the worker taking the guild over edits the
message the first worker posted (its id is in the guild's state), it posts no second one."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from shared.state import MessageRef
from tests.failover.conftest import STEP_TIMEOUT_S, Fleet

pytestmark = [pytest.mark.failover, pytest.mark.timeout(120)]


def cards(fleet: Fleet) -> list[dict[str, Any]]:
    """The bot's messages with an embed that are not interaction replies."""
    return [
        m
        for m in fleet.fake.channel_messages()
        if m.get("embeds") and not m.get("interaction_metadata")
    ]


async def eventually_stored(fleet: Fleet, expected: MessageRef) -> bool:
    for _ in range(int(STEP_TIMEOUT_S / 0.1)):
        stored = await fleet.state.get_guild(fleet.guild_id)
        if stored is not None and stored.now_playing_message == expected:
            return True
        await asyncio.sleep(0.1)
    return False


def title(message: dict[str, Any]) -> str:
    return str(message["embeds"][0].get("title", ""))


async def test_the_worker_taking_over_edits_the_same_now_playing_message(fleet: Fleet) -> None:
    # GIVEN two workers, a 6 s track playing with a 2 s track queued, and their message
    await fleet.start_worker("a")
    await fleet.start_worker("b")
    fleet.fake.move_user()
    await fleet.command("play", query=fleet.tones.url(440, 6))
    await fleet.command("play", query=fleet.tones.url(660, 2))
    await fleet.fake.wait_for_channel_message(
        predicate=lambda m: m in cards(fleet) and "1 in the queue" in str(m["embeds"]),
        timeout_s=STEP_TIMEOUT_S,
    )
    [card] = cards(fleet)
    owner = await fleet.owner()
    assert owner in ("a", "b")
    survivor = "b" if owner == "a" else "a"
    # (the guild's state in DynamoDB says where it is: saved right after the post)
    expected = MessageRef(channel_id=card["channel_id"], message_id=card["id"])
    assert await eventually_stored(fleet, expected)

    # WHEN the owner hands the guild over (SIGTERM) mid-track
    await fleet.hear(440, 1.5)
    leaving = fleet.workers[owner]
    leaving.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(leaving.process.wait(), 20) == 0, leaving.tail()
    assert await fleet.wait_owner(lambda who: who == survivor) == survivor

    # THEN the survivor shows the next track, and the end, on that same message
    await fleet.fake.wait_for_channel_message(
        predicate=lambda m: m.get("id") == card["id"] and title(m).startswith("660"),
        timeout_s=STEP_TIMEOUT_S,
    )
    await fleet.fake.wait_for_channel_message(
        predicate=lambda m: m.get("id") == card["id"] and title(m) == "Queue finished",
        timeout_s=STEP_TIMEOUT_S,
    )
    assert [m["id"] for m in cards(fleet)] == [card["id"]], fleet.logs()
    posts = [
        r
        for r in fleet.fake.requests
        if r.operation_id == "create_message" and (r.body or {}).get("embeds")
    ]
    assert len(posts) == 1, fleet.logs()
