"""The slash command definitions: Discord's OpenAPI schema and its documented limits."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from interactions.commands import definitions
from interactions.commands.definitions import (
    COMMANDS,
    SPECS,
    Access,
    bulk_overwrite_payload,
    registered_commands,
    usage,
)
from interactions.commands.help import help_embed
from interactions.responses import ephemeral_embed
from shared.jobs import WORKER_COMMANDS
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


REGISTERED = [
    "play",
    "search",
    "skip",
    "stop",
    "pause",
    "resume",
    "leave",
    "queue",
    "nowplaying",
    "history",
    "playlist",
    "settings",
    "help",
    "volume",
    "seek",
    "loop",
    "shuffle",
    "remove",
    "move",
    "clear",
    "skipto",
    "previous",
    "filter",
    "autoplay",
    "247",
]
# Every command's worker side exists today; a new one starts here until the worker handles it.
WAITING_FOR_WORKER: list[str] = []


def test_only_commands_that_work_end_to_end_are_registered() -> None:
    # GIVEN every definition / WHEN the registration payload is built
    body = bulk_overwrite_payload(max_query_length=500)
    # THEN the commands whose worker side is missing are defined but not sent
    assert [c.name for c in COMMANDS] == REGISTERED + WAITING_FOR_WORKER
    assert [c["name"] for c in body] == REGISTERED
    assert [spec.name for spec in registered_commands()] == REGISTERED
    for name in WAITING_FOR_WORKER:
        assert SPECS[name].needs_worker == name and name not in WORKER_COMMANDS


def test_a_command_is_registered_once_the_worker_handles_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a worker that does not announce /filter (shared.jobs.WORKER_COMMANDS)
    monkeypatch.setattr(definitions, "WORKER_COMMANDS", WORKER_COMMANDS - {"filter"})
    assert "filter" not in [c["name"] for c in bulk_overwrite_payload(max_query_length=500)]
    # WHEN it does, THEN /filter goes to Discord, and the payload is still valid
    monkeypatch.setattr(definitions, "WORKER_COMMANDS", WORKER_COMMANDS)
    body = bulk_overwrite_payload(max_query_length=500)
    assert "filter" in [c["name"] for c in body]
    assert spec_errors("PUT", "/applications/1300000000000000001/commands", body) == {}


def _every_definition() -> list[dict[str, Any]]:
    return [
        {"type": 1, **spec.payload, "integration_types": [0], "contexts": [0]}
        for spec in COMMANDS
        if spec.name not in _QUERY_COMMANDS
    ] + [c for c in bulk_overwrite_payload(max_query_length=500) if c["name"] in _QUERY_COMMANDS]


# Their query's max_length comes from settings when the payload is built.
_QUERY_COMMANDS = ("play", "search")


def test_every_definition_registered_or_not_is_valid_for_discord() -> None:
    # GIVEN all definitions, including those waiting for the worker
    body = _every_definition()
    # THEN Discord's spec takes them, and they keep Discord's limits
    assert spec_errors("PUT", "/applications/1300000000000000001/commands", body) == {}
    _check_limits(body)


def _check_limits(body: list[dict[str, Any]]) -> None:
    assert len(body) <= 100
    for command in body:
        options = command.get("options", [])
        assert len(options) <= 25
        for option in options:
            assert valid_name(option["name"]) and 1 <= len(option["description"]) <= 100
            assert len(option.get("choices", [])) <= 25
            nested = option.get("options", [])
            assert len(nested) <= 25
            required = [bool(o.get("required")) for o in nested]
            assert required == sorted(required, reverse=True)
            for sub in nested:
                assert valid_name(sub["name"]) and 1 <= len(sub["description"]) <= 100
                for choice in sub.get("choices", []):
                    assert 1 <= len(choice["name"]) <= 100
                # Discord refuses autocomplete together with choices.
                assert not (sub.get("autocomplete") and sub.get("choices"))


def test_the_whole_payload_stays_under_discords_size_limit() -> None:
    # Discord caps a command's combined name/description/option/choice text at 4000 chars.
    for command in _every_definition():
        text = json.dumps(command)
        assert len(text) < 4000, command["name"]


def test_access_rules_come_from_the_data() -> None:
    assert SPECS["stop"].access is Access.DJ and SPECS["leave"].access is Access.DJ
    assert SPECS["clear"].access is Access.DJ
    assert SPECS["playlist"].access_for("delete") is Access.DJ
    assert SPECS["playlist"].access_for("list") is Access.EVERYONE
    # Saving is for everyone; replacing someone else's playlist is checked by the command.
    assert SPECS["playlist"].access_for("save") is Access.EVERYONE
    assert SPECS["playlist"].access_for("load") is Access.EVERYONE
    assert SPECS["settings"].access_for("show") is Access.EVERYONE
    assert SPECS["settings"].access_for("set") is Access.MANAGER
    assert SPECS["settings"].access_for("reset") is Access.MANAGER
    assert SPECS["play"].access is Access.EVERYONE


def test_usage_lists_subcommands() -> None:
    assert usage(SPECS["playlist"].payload) == (
        "/playlist list | show <name> | save <name> | load <name> | delete <name>"
    )
    assert usage(SPECS["play"].payload) == "/play <query> [next]"
    assert usage(SPECS["move"].payload) == "/move <from> <to>"


def test_building_the_payload_does_not_alter_the_definitions() -> None:
    bulk_overwrite_payload(max_query_length=10)
    assert SPECS["play"].payload["options"][0]["max_length"] == "max_query_length"


def test_help_embed_is_a_valid_callback() -> None:
    assert_valid_callback(ephemeral_embed(help_embed()))
