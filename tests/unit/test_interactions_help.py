"""/help: grouped by category and inside Discord's embed limits for any number of commands."""

from __future__ import annotations

from typing import Any

from interactions.commands.definitions import COMMANDS, CommandSpec, registered_commands
from interactions.commands.help import (
    CATEGORIES,
    CUT_NOTE,
    MAX_EMBED_TOTAL,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FIELDS,
    OTHER,
    help_embed,
)
from interactions.responses import ephemeral_embed
from tests.fixtures_interactions import assert_valid_callback


def assert_within_discord_limits(embed: dict[str, Any]) -> None:
    """Discord's documented embed limits, counted independently of help.py's own helper."""
    fields = embed["fields"]
    assert 1 <= len(fields) <= MAX_FIELDS == 25
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    for field in fields:
        assert 1 <= len(field["name"]) <= MAX_FIELD_NAME == 256
        assert 1 <= len(field["value"]) <= MAX_FIELD_VALUE == 1024
    total = len(embed["title"]) + len(embed["description"])
    total += sum(len(f["name"]) + len(f["value"]) for f in fields)
    assert total <= MAX_EMBED_TOTAL == 6000
    assert_valid_callback(ephemeral_embed(embed))


def shown_commands(embed: dict[str, Any]) -> list[str]:
    """The command names listed, in order (each line starts with its usage in backticks)."""
    return [
        line.split("`")[1].split()[0].removeprefix("/")
        for field in embed["fields"]
        for line in field["value"].splitlines()
    ]


def spec(name: str, description: str = "Does a thing.") -> CommandSpec:
    return CommandSpec({"name": name, "description": description})


def test_every_defined_command_is_listed_once_under_its_category() -> None:
    # GIVEN every command definitions.py holds (registered or not yet)
    embed = help_embed(COMMANDS)
    # THEN each is listed exactly once, inside Discord's limits, with its description
    assert sorted(shown_commands(embed)) == sorted(spec.name for spec in COMMANDS)
    assert_within_discord_limits(embed)
    assert "— Play a song" in embed["fields"][0]["value"]
    # AND every defined command has a category of its own (none falls into "More")
    categorised = {name for names in CATEGORIES.values() for name in names}
    assert {spec.name for spec in COMMANDS} <= categorised
    assert [f["name"] for f in embed["fields"]] == list(CATEGORIES)


def test_the_default_lists_the_registered_commands() -> None:
    embed = help_embed()
    assert sorted(shown_commands(embed)) == sorted(spec.name for spec in registered_commands())
    assert_within_discord_limits(embed)


def test_commands_added_later_fit_and_unknown_ones_go_under_more() -> None:
    # GIVEN the other helpers' commands and one nobody categorised
    extra = [spec("search"), spec("autoplay"), spec("247"), spec("karaoke-night")]
    embed = help_embed([*COMMANDS, *extra])
    names = {f["name"]: f["value"] for f in embed["fields"]}
    assert "`/search` — Does a thing." in names["Playback"]
    assert "`/autoplay`" in names["Player"] and "`/247`" in names["Player"]
    assert "`/karaoke-night`" in names[OTHER]
    assert_within_discord_limits(embed)


def test_a_long_category_continues_in_another_field() -> None:
    # GIVEN 30 queue-ish commands whose lines together pass 1024 characters
    many = [spec(f"q{i}", "x" * 90) for i in range(30)]
    embed = help_embed(many)
    assert [f["name"] for f in embed["fields"]][:2] == [OTHER, f"{OTHER} (continued)"]
    assert len(shown_commands(embed)) == 30
    assert_within_discord_limits(embed)


def test_hundreds_of_commands_still_fit_without_descriptions_then_cut() -> None:
    # GIVEN 60 commands: with descriptions they pass 6000 characters, usage alone fits
    sixty = [spec(f"c{i:02d}", "d" * 100) for i in range(60)]
    embed = help_embed(sixty)
    assert len(shown_commands(embed)) == 60 and "— d" not in embed["fields"][0]["value"]
    assert_within_discord_limits(embed)
    # GIVEN 400 commands with 32-character names: not even their usage fits
    crowd = [spec(f"{i:03d}" + "n" * 29, "d" * 100) for i in range(400)]
    embed = help_embed(crowd)
    assert_within_discord_limits(embed)
    assert CUT_NOTE in embed["description"] and 0 < len(shown_commands(embed)) < 400
