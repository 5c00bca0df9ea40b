"""The player commands' pure parts: queue editing, the job contract, routing to the worker."""

from __future__ import annotations

import json
import random
from typing import Any, cast

import discord
import pytest

from interactions.commands.adjust import player_command
from interactions.commands.base import Services
from interactions.commands.playback import player
from interactions.context import parse_interaction
from shared.jobs import (
    PLAYER_COMMANDS,
    WORKER_COMMANDS,
    LoopCommand,
    MalformedJob,
    PlayerCommandJob,
    Requester,
    UnsupportedCommandJob,
    decode_job,
    encode_job,
)
from shared.queue import InMemoryJobQueue
from tests.fixtures_interactions import command
from voice_worker.handlers import NOT_SUPPORTED, CommandHandlers
from voice_worker.models import QueuedTrack, TrackQueue
from voice_worker.player_commands import clock, tracks
from voice_worker.sessions import SessionManager
from voice_worker.sources.models import TrackRef
from voice_worker.tracks import TrackSource


def entry(name: str) -> QueuedTrack:
    return QueuedTrack(
        ref=TrackRef(title=name, webpage_url=f"https://example.com/{name}"),
        requester_id="1",
        job_id="2",
    )


def titles(queue: TrackQueue) -> list[str]:
    return [track.ref.title for track in queue.snapshot()]


def job(command_: Any) -> PlayerCommandJob:
    return PlayerCommandJob(
        job_id="1300000000000001000",
        guild_id="1300000000000000100",
        channel_id="1300000000000000200",
        application_id="1300000000000000001",
        interaction_token="token",
        requester=Requester(user_id="1300000000000000500"),
        command=command_,
    )


def test_positions_are_checked_with_the_message_the_user_sees() -> None:
    empty = TrackQueue(10)
    assert empty.position_problem(1) == "The queue is empty."
    queue = TrackQueue(10, [entry("a"), entry("b"), entry("c")])
    assert queue.position_problem(4) == "There are only 3 tracks in the queue: pick 1 to 3."
    assert queue.position_problem(0) is not None
    assert [queue.position_problem(n) for n in (1, 2, 3)] == [None, None, None]


def test_remove_move_and_drop_before_edit_the_queue_in_place() -> None:
    queue = TrackQueue(10, [entry(name) for name in "abcde"])
    assert queue.remove(2).ref.title == "b"
    assert titles(queue) == ["a", "c", "d", "e"]
    assert queue.move(4, 1).ref.title == "e"
    assert titles(queue) == ["e", "a", "c", "d"]
    assert queue.move(1, 3).ref.title == "e"
    assert titles(queue) == ["a", "c", "e", "d"]
    assert [t.ref.title for t in queue.drop_before(3)] == ["a", "c"]
    assert titles(queue) == ["e", "d"]
    assert queue.drop_before(1) == ()


def test_shuffle_keeps_every_track_and_changes_the_order() -> None:
    names = [str(n) for n in range(20)]
    queue = TrackQueue(50, [entry(name) for name in names])
    queue.shuffle(random.Random(7))
    assert sorted(titles(queue), key=int) == names
    assert titles(queue) != names


def test_player_command_jobs_are_jobs_and_their_commands_are_registered() -> None:
    loop = job(LoopCommand(mode="track"))
    assert decode_job(encode_job(loop)) == loop
    assert PLAYER_COMMANDS <= WORKER_COMMANDS
    # Every command the front door can send is handled (none would get "not available").
    assert {"volume", "seek", "loop", "remove", "skipto", "move", "shuffle", "clear"} | {
        "previous",
        "filter",
        "autoplay",
        "247",
    } == PLAYER_COMMANDS
    for name in PLAYER_COMMANDS:
        raw = json.loads(encode_job(job(LoopCommand(mode="off"))))
        raw["command"] = {"name": name}  # known name, missing arguments (but for plain ones)
        try:
            decoded = decode_job(json.dumps(raw))
        except MalformedJob:
            continue
        assert isinstance(decoded, PlayerCommandJob), name


def test_a_known_command_with_bad_arguments_is_still_malformed() -> None:
    raw = json.loads(encode_job(job(LoopCommand(mode="track"))))
    raw["command"] = {"name": "volume", "percent": 999}
    with pytest.raises(MalformedJob):
        decode_job(json.dumps(raw))


async def test_a_command_this_worker_does_not_know_is_declined_politely() -> None:
    # GIVEN a newer front door's command, unknown to this worker (a rolling deploy)
    raw = json.loads(encode_job(job(LoopCommand(mode="track"))))
    raw["command"] = {"name": "karaoke", "level": 11}
    decoded = decode_job(json.dumps(raw))
    assert isinstance(decoded, UnsupportedCommandJob) and decoded.job_id == raw["job_id"]
    # WHEN a worker handles it (with no gateway, sessions or sources: none may be touched)
    handlers = CommandHandlers(
        cast(discord.Client, None), cast(SessionManager, None), cast(TrackSource, None)
    )
    reply = await handlers.handle(decoded)
    # THEN the user is told, privately, and it is not mistaken for another command
    assert reply.text == NOT_SUPPORTED and reply.ephemeral


async def test_front_door_enqueues_a_player_command_job_and_defers() -> None:
    queue = InMemoryJobQueue()
    services = Services(queue=queue, enqueue_timeout_s=1.0, max_query_length=200)
    interaction = parse_interaction(command("skipto", position=3))
    reply = await player(services, interaction)
    assert reply.outcome == "enqueued" and reply.body["type"] == 5
    [delivery] = await queue.receive(max_messages=10, wait_s=0)
    assert isinstance(delivery.job, PlayerCommandJob)
    assert delivery.job.command == player_command(interaction)
    assert delivery.job.job_id == interaction.id


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (90, "1:30"), (3600 + 62, "1:01:02")])
def test_clock_and_counts_read_naturally(seconds: float, text: str) -> None:
    assert clock(seconds) == text
    assert tracks(1) == "1 track" and tracks(3) == "3 tracks"
