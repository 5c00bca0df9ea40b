"""Builders for interaction callback bodies (validated against Discord's OpenAPI spec in tests)."""

from __future__ import annotations

from typing import Any

from interactions.discord_types import MessageFlags, ResponseType

# Discord's limits for autocomplete results.
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
# Discord documents string choice values as at most 100 characters (its OpenAPI spec is looser).
MAX_CHOICE_VALUE = 100
MAX_CONTENT = 2000

JsonObject = dict[str, Any]


def pong() -> JsonObject:
    """The answer to Discord's PING."""
    return {"type": ResponseType.PONG.value}


def deferred_message(*, ephemeral: bool = False) -> JsonObject:
    """'The bot is thinking': the worker edits this message through the follow-up webhook.

    ephemeral: the message (and what the worker puts there) is seen by the user alone.
    """
    body: JsonObject = {"type": ResponseType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE.value}
    if ephemeral:
        body["data"] = {"flags": MessageFlags.EPHEMERAL.value}
    return body


def deferred_update() -> JsonObject:
    """Acknowledge a button without changing its message (the worker may edit it later)."""
    return {"type": ResponseType.DEFERRED_UPDATE_MESSAGE.value}


def ephemeral(content: str) -> JsonObject:
    """A message only the invoking user sees; mentions are never pinged."""
    return {
        "type": ResponseType.CHANNEL_MESSAGE_WITH_SOURCE.value,
        "data": {
            "content": truncate(content, MAX_CONTENT),
            "flags": MessageFlags.EPHEMERAL.value,
            "allowed_mentions": {"parse": []},
        },
    }


def message(content: str) -> JsonObject:
    """A message everyone in the channel sees; mentions are never pinged."""
    return {
        "type": ResponseType.CHANNEL_MESSAGE_WITH_SOURCE.value,
        "data": {"content": truncate(content, MAX_CONTENT), "allowed_mentions": {"parse": []}},
    }


def ephemeral_embed(embed: JsonObject, components: list[JsonObject] | None = None) -> JsonObject:
    """An ephemeral message carrying one embed (and optional rows of buttons)."""
    data: JsonObject = {
        "embeds": [embed],
        "flags": MessageFlags.EPHEMERAL.value,
        "allowed_mentions": {"parse": []},
    }
    if components is not None:
        data["components"] = components
    return {"type": ResponseType.CHANNEL_MESSAGE_WITH_SOURCE.value, "data": data}


def update_message(embed: JsonObject, components: list[JsonObject]) -> JsonObject:
    """Replace the message a button sits on (type 7), e.g. the next page of /queue."""
    return {
        "type": ResponseType.UPDATE_MESSAGE.value,
        "data": {"embeds": [embed], "components": components, "allowed_mentions": {"parse": []}},
    }


def update_content(content: str, components: list[JsonObject] | None = None) -> JsonObject:
    """Replace the text of the message a component sits on (type 7), and its components."""
    data: JsonObject = {
        "content": truncate(content, MAX_CONTENT),
        "allowed_mentions": {"parse": []},
    }
    if components is not None:
        data["components"] = components
    return {"type": ResponseType.UPDATE_MESSAGE.value, "data": data}


def button(custom_id: str, label: str, *, style: int = 2, disabled: bool = False) -> JsonObject:
    """A button (style 1 primary, 2 secondary, 4 danger) that sends custom_id back to us."""
    return {
        "type": 2,
        "style": style,
        "label": label,
        "custom_id": custom_id,
        "disabled": disabled,
    }


def action_row(*buttons: JsonObject) -> JsonObject:
    """A row of up to five buttons."""
    return {"type": 1, "components": list(buttons)}


def autocomplete(choices: list[tuple[str, str]]) -> JsonObject:
    """Autocomplete suggestions as (name, value) pairs, cut to Discord's limits.

    A value can't be cut (it is what gets submitted), so a too-long one is left out.
    """
    fitting = [(name, value) for name, value in choices if len(value) <= MAX_CHOICE_VALUE]
    return {
        "type": ResponseType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT.value,
        "data": {
            "choices": [
                {"name": truncate(name, MAX_CHOICE_NAME), "value": value}
                for name, value in fitting[:MAX_CHOICES]
            ]
        },
    }


def truncate(text: str, limit: int) -> str:
    """Cut text to at most limit characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
