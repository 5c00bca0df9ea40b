"""One verified interaction, parsed from Discord's JSON into the few fields the bot uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from interactions.discord_types import InteractionType
from shared.jobs import Requester

_MAX_NAME = 100


class MalformedInteraction(ValueError):
    """Signed by Discord but not shaped like an interaction we understand (answered with 400)."""


@dataclass(frozen=True, slots=True)
class Interaction:
    """The parts of an interaction payload the router needs; the token is kept out of repr."""

    id: str
    application_id: str
    type: InteractionType
    token: str = field(repr=False)
    guild_id: str | None = None
    channel_id: str | None = None
    user_id: str | None = None
    display_name: str = ""
    role_ids: tuple[str, ...] = ()
    permissions: str = "0"
    command: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    focused: str | None = None
    custom_id: str | None = None
    # A select menu's chosen values (as the client sent them: never trusted).
    values: tuple[str, ...] = ()
    # The labels of those values' options in the message the menu sits on (our own message).
    value_labels: tuple[str, ...] = ()
    # "list" for `/playlist list`; "group sub" for a subcommand in a group.
    subcommand: str | None = None

    def requester(self) -> Requester:
        """Who asked, for the job."""
        return Requester.model_validate(self.requester_fields())

    def requester_fields(self) -> dict[str, Any]:
        """Who asked, as the plain data Requester validates (a job validates it in one pass)."""
        return {
            "user_id": self.user_id or "0",
            "display_name": self.display_name[:_MAX_NAME],
            "role_ids": self.role_ids,
            "permissions": self.permissions,
        }

    def log_fields(self) -> dict[str, str | int | None]:
        """Identifiers safe to log (never the token or option values)."""
        return {
            "interaction_id": self.id,
            "interaction_type": self.type.name.lower(),
            "guild_id": self.guild_id,
            "user_id": self.user_id,
            "command": self.command or self.custom_id,
        }


def _str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value else None


_SNOWFLAKE = re.compile(r"[0-9]{1,20}")


def _snowflake(payload: Mapping[str, Any], key: str) -> str | None:
    """An id field: absent is None, anything but a snowflake is malformed (jobs carry these
    ids and refuse other values: found by the long fuzz run, a 200 apology instead of a 400)."""
    value = _str(payload, key)
    if value is not None and not _SNOWFLAKE.fullmatch(value):
        raise MalformedInteraction(f"{key} is not a snowflake")
    return value


_SUB_COMMAND = 1
_SUB_COMMAND_GROUP = 2
_MAX_OPTIONS = 100  # Discord sends at most 25 per level; a hostile payload may send more


def _flatten_options(options: object) -> tuple[dict[str, Any], str | None, str | None]:
    """Option values by name, the focused one (autocomplete), and the subcommand path."""
    values: dict[str, Any] = {}
    focused: str | None = None
    path: list[str] = []
    level: object = options
    for _ in range(3):  # command > group > subcommand: at most two levels below the command
        if not isinstance(level, list):
            break
        nested: object = None
        for raw in level[:_MAX_OPTIONS]:
            if not isinstance(raw, dict):
                continue
            option: dict[str, Any] = raw  # read defensively: an OptionPayload from anyone
            name = option.get("name")
            if not isinstance(name, str):
                continue
            if option.get("type") in (_SUB_COMMAND, _SUB_COMMAND_GROUP) and nested is None:
                path.append(name)
                nested = option.get("options", [])
            elif "value" in option:
                values[name] = option["value"]
                if option.get("focused") is True:
                    focused = name
        level = nested
    return values, focused, " ".join(path) or None


_MAX_VALUES = 25  # a select menu offers at most 25 options


def _values(raw: object) -> tuple[str, ...]:
    """A select menu's values; anything that is not a list of strings counts as none."""
    if not isinstance(raw, list):
        return ()
    return tuple(value for value in raw[:_MAX_VALUES] if isinstance(value, str))


def _labels(message: object, custom_id: str | None, values: tuple[str, ...]) -> tuple[str, ...]:
    """The labels of the chosen options, read from the select menu in the message."""
    if not values or not isinstance(message, dict):
        return ()
    labels: dict[str, str] = {}
    rows = message.get("components")
    for row in rows[:5] if isinstance(rows, list) else ():
        items = row.get("components") if isinstance(row, dict) else None
        for item in items[:5] if isinstance(items, list) else ():
            if not isinstance(item, dict) or item.get("custom_id") != custom_id:
                continue
            options = item.get("options")
            for option in options[:_MAX_VALUES] if isinstance(options, list) else ():
                if isinstance(option, dict) and isinstance(option.get("label"), str):
                    labels[str(option.get("value"))] = option["label"]
    return tuple(labels.get(value, "") for value in values)


def parse_interaction(payload: object) -> Interaction:
    """Build an Interaction from decoded JSON, or raise MalformedInteraction."""
    if not isinstance(payload, dict):
        raise MalformedInteraction("an interaction is a JSON object")
    raw_type = payload.get("type")
    if not isinstance(raw_type, int) or isinstance(raw_type, bool):
        raise MalformedInteraction("interaction type missing")
    try:
        kind = InteractionType(raw_type)
    except ValueError:
        raise MalformedInteraction(f"unknown interaction type {raw_type}") from None
    interaction_id = _snowflake(payload, "id")
    application_id = _snowflake(payload, "application_id")
    token = _str(payload, "token")
    if interaction_id is None or application_id is None:
        raise MalformedInteraction("interaction id or application id missing")
    if token is None and kind is not InteractionType.PING:
        raise MalformedInteraction("interaction token missing")

    # Each key read once: this runs on every interaction's answer path.
    member = payload.get("member")
    if not isinstance(member, dict):
        member = None
    user_source = member.get("user") if member else payload.get("user")
    user: dict[str, Any] = user_source if isinstance(user_source, dict) else {}
    roles = member.get("roles") if member else None
    data = payload.get("data")
    if not isinstance(data, dict):
        data = {}
    options, focused, subcommand = _flatten_options(data.get("options"))
    values = _values(data.get("values"))
    custom_id = _str(data, "custom_id")
    display = (
        (_str(member, "nick") if member else None)
        or _str(user, "global_name")
        or _str(user, "username")
        or ""
    )
    return Interaction(
        id=interaction_id,
        application_id=application_id,
        type=kind,
        token=token or "",
        guild_id=_snowflake(payload, "guild_id"),
        channel_id=_snowflake(payload, "channel_id"),
        user_id=_snowflake(user, "id"),
        display_name=display,
        role_ids=(
            tuple(r for r in roles if isinstance(r, str) and _SNOWFLAKE.fullmatch(r))
            if isinstance(roles, list)
            else ()
        ),
        permissions=(_str(member, "permissions") if member else None) or "0",
        command=_str(data, "name"),
        options=options,
        focused=focused,
        custom_id=custom_id,
        values=values,
        value_labels=_labels(payload.get("message"), custom_id, values) if values else (),
        subcommand=subcommand,
    )
