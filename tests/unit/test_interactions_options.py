"""Option parsing: times, positions, volume, loop modes, switches, and player commands."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pydantic import ValidationError

from interactions.commands.adjust import player_command
from interactions.context import Interaction
from interactions.discord_types import InteractionType
from interactions.options import (
    format_duration,
    parse_index,
    parse_loop,
    parse_switch,
    parse_time,
    parse_volume,
)
from interactions.validation import InvalidOption
from shared.jobs import (
    FilterCommand,
    IndexCommand,
    LoopCommand,
    MoveCommand,
    PlainCommand,
    PlayerCommandJob,
    Requester,
    SeekCommand,
    VolumeCommand,
)

TIME_HELP = "Give the position as mm:ss or seconds, like 1:30 or 90."


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1:30", 90.0),
        ("01:05", 65.0),
        ("90", 90.0),
        ("90.5", 90.5),
        ("1:02:03", 3723.0),
        ("120:00", 7200.0),
        (" 0:07 ", 7.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_times(value: object, seconds: float) -> None:
    assert parse_time(value, what="position") == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", TIME_HELP),
        ("abc", TIME_HELP),
        ("-5", TIME_HELP),
        ("1:2:3:4", TIME_HELP),
        ("1e3", TIME_HELP),
        (True, TIME_HELP),
        (None, TIME_HELP),
        (math.nan, TIME_HELP),
        (-1, TIME_HELP),
        ("1:60", "1:60 isn't a time: seconds (and minutes) go up to 59."),
        ("1:60:00", "1:60:00 isn't a time: seconds (and minutes) go up to 59."),
        ("99:00:00", "That position is too long: at most 24:00:00."),
    ],
)
def test_bad_times_say_what_is_expected(value: object, message: str) -> None:
    with pytest.raises(InvalidOption) as refused:
        parse_time(value, what="position")
    assert str(refused.value) == message


def test_indexes_are_one_based_and_within_the_queue() -> None:
    assert parse_index(1) == 1
    assert parse_index("3", length=3) == 3
    with pytest.raises(InvalidOption, match=r"^Position must be from 1 to 2000 \(you gave 0\)\.$"):
        parse_index(0)
    with pytest.raises(InvalidOption, match=r"^There are only 3 tracks in the queue: pick 1 to"):
        parse_index(4, length=3)
    with pytest.raises(InvalidOption, match=r"^The queue is empty\.$"):
        parse_index(1, length=0)
    with pytest.raises(InvalidOption, match="whole number"):
        parse_index("two")
    with pytest.raises(InvalidOption, match="whole number"):
        parse_index(2**80)


def test_volume_is_0_to_150() -> None:
    assert parse_volume(0) == 0 and parse_volume(150) == 150
    with pytest.raises(InvalidOption, match=r"^Volume must be from 0 to 150 \(you gave 151\)\.$"):
        parse_volume(151)
    with pytest.raises(InvalidOption, match=r"^Volume must be a whole number from 0 to 150\.$"):
        parse_volume(True)


def test_loop_modes_and_switches() -> None:
    assert [parse_loop(m) for m in ("off", "Track", " queue ")] == ["off", "track", "queue"]
    with pytest.raises(InvalidOption, match=r"^Loop mode must be off, track or queue\.$"):
        parse_loop("all")
    assert parse_switch("on", name="Autoplay") is True
    assert parse_switch(False, name="Autoplay") is False
    assert parse_switch("OFF", name="Autoplay") is False
    with pytest.raises(InvalidOption, match=r"^Autoplay must be on or off\.$"):
        parse_switch("maybe", name="Autoplay")


def test_durations_are_formatted_for_people() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(83.9) == "1:23"
    assert format_duration(3723) == "1:02:03"
    assert format_duration(None) == "live"


def interaction(name: str, **options: Any) -> Interaction:
    return Interaction(
        id="1",
        application_id="2",
        type=InteractionType.APPLICATION_COMMAND,
        token="t",
        guild_id="3",
        channel_id="4",
        command=name,
        options=options,
    )


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("volume", {"percent": 80}, VolumeCommand(percent=80)),
        ("seek", {"position": "2:05"}, SeekCommand(position_s=125)),
        ("loop", {"mode": "queue"}, LoopCommand(mode="queue")),
        ("remove", {"position": 2}, IndexCommand(name="remove", index=2)),
        ("skipto", {"position": 5}, IndexCommand(name="skipto", index=5)),
        ("move", {"from": 5, "to": 1}, MoveCommand(from_index=5, to_index=1)),
        ("shuffle", {}, PlainCommand(name="shuffle")),
        ("clear", {}, PlainCommand(name="clear")),
        ("previous", {}, PlainCommand(name="previous")),
        ("filter", {"preset": "nightcore"}, FilterCommand(preset="nightcore")),
    ],
)
def test_player_commands_become_validated_job_payloads(
    name: str, options: dict[str, Any], expected: object
) -> None:
    assert player_command(interaction(name, **options), queue_length=10) == expected


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("volume", {"percent": 200}, "Volume must be from 0 to 150 (you gave 200)."),
        ("seek", {"position": "soon"}, TIME_HELP),
        ("loop", {}, "Loop mode must be off, track or queue."),
        ("remove", {"position": 11}, "There are only 10 tracks in the queue: pick 1 to 10."),
        ("move", {"from": 2, "to": 2}, "That track is already there."),
        ("move", {"from": 2}, "To must be a whole number from 1 to 2000."),
        (
            "filter",
            {"preset": "robot"},
            "Pick a filter: none, bassboost, nightcore, vaporwave, karaoke, 8d.",
        ),
        ("karaoke", {}, "I don't know that command. Try /help."),
    ],
)
def test_bad_player_command_options_are_refused_precisely(
    name: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidOption) as refused:
        player_command(interaction(name, **options), queue_length=10)
    assert str(refused.value) == message


def test_player_command_jobs_round_trip_and_refuse_bad_arguments() -> None:
    # GIVEN a job as the front door would build it once /move is registered
    job = PlayerCommandJob(
        job_id="1300000000000001000",
        guild_id="1300000000000000100",
        channel_id="1300000000000000200",
        application_id="1300000000000000001",
        interaction_token="token",
        requester=Requester(user_id="1300000000000000500"),
        command=player_command(interaction("move", **{"from": 3, "to": 1})),
    )
    # THEN it survives JSON, and arguments out of range are refused by the contract itself
    assert PlayerCommandJob.model_validate_json(job.model_dump_json()) == job
    raw = json.loads(job.model_dump_json())
    raw["command"] = {"name": "volume", "percent": 151}
    with pytest.raises(ValidationError):
        PlayerCommandJob.model_validate(raw)
    raw["command"] = {"name": "remove", "index": 0}
    with pytest.raises(ValidationError):
        PlayerCommandJob.model_validate(raw)
