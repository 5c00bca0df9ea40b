"""The slash command definitions: Discord's OpenAPI schema and its documented limits."""

from __future__ import annotations

import unicodedata

from interactions.commands.definitions import COMMANDS, bulk_overwrite_payload
from interactions.commands.help import help_embed
from interactions.responses import ephemeral_embed
from tests.fixtures_interactions import assert_valid_callback, spec_errors


def valid_name(name: str) -> bool:
    """Discord's rule for CHAT_INPUT names: ^[-_\\p{L}\\p{N}]{1,32}$, and lowercase."""
    return (
        1 <= len(name) <= 32
        and all(ch in "-_" or unicodedata.category(ch)[0] in "LN" for ch in name)
        and name == name.lower()
    )


def test_payload_is_a_valid_bulk_overwrite_body() -> None:
    # GIVEN the payload `commands register` sends
    body = bulk_overwrite_payload(max_query_length=500)
    # THEN Discord's spec accepts it for both the global and the guild route
    assert spec_errors("PUT", "/applications/1300000000000000001/commands", body) == {}
    assert (
        spec_errors(
            "PUT", "/applications/1300000000000000001/guilds/1300000000000000100/commands", body
        )
        == {}
    )


def test_payload_respects_discord_limits() -> None:
    body = bulk_overwrite_payload(max_query_length=500)
    assert len(body) <= 100  # global CHAT_INPUT commands per app
    names = [command["name"] for command in body]
    assert len(names) == len(set(names))
    for command in body:
        assert command["type"] == 1
        assert command["integration_types"] == [0] and command["contexts"] == [0]
        assert valid_name(command["name"])
        assert 1 <= len(command["description"]) <= 100
        options = command.get("options", [])
        assert len(options) <= 25
        # Required options come first, as Discord requires.
        required = [bool(option.get("required")) for option in options]
        assert required == sorted(required, reverse=True)
        for option in options:
            assert valid_name(option["name"])
            assert 1 <= len(option["description"]) <= 100


def test_play_query_takes_its_max_length_from_settings() -> None:
    [play] = [c for c in bulk_overwrite_payload(max_query_length=321) if c["name"] == "play"]
    query = play["options"][0]
    assert query == {
        "type": 3,
        "name": "query",
        "description": query["description"],
        "required": True,
        "autocomplete": True,
        "max_length": 321,
    }
    assert play["options"][1]["type"] == 5 and play["options"][1]["name"] == "next"


def test_every_command_is_listed() -> None:
    assert [c["name"] for c in COMMANDS] == [
        "play",
        "skip",
        "stop",
        "pause",
        "resume",
        "leave",
        "queue",
        "nowplaying",
        "help",
    ]


def test_building_the_payload_does_not_alter_the_definitions() -> None:
    bulk_overwrite_payload(max_query_length=10)
    assert COMMANDS[0]["options"][0]["max_length"] == "max_query_length"


def test_help_embed_is_a_valid_callback() -> None:
    assert_valid_callback(ephemeral_embed(help_embed()))
