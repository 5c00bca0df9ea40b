"""Discord's interaction wire format: the numbers we use and the payload shapes we read.

Kept local (not discord_interactions' enums) so the Lambda imports nothing it does not need.
Raw payloads are TypedDicts, read defensively: Discord adds fields without notice.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Any, NotRequired, TypedDict


class InteractionType(IntEnum):
    """What Discord is telling us about (`type` of the interaction)."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class ResponseType(IntEnum):
    """How we answer (`type` of the interaction callback)."""

    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8


class MessageFlags(IntFlag):
    """Message flags we set on replies."""

    EPHEMERAL = 1 << 6


class OptionType(IntEnum):
    """Application command option types we define."""

    STRING = 3
    BOOLEAN = 5


class UserPayload(TypedDict):
    """The subset of a Discord user we read."""

    id: str
    username: NotRequired[str]
    global_name: NotRequired[str | None]


class MemberPayload(TypedDict):
    """The guild member who invoked the interaction."""

    user: UserPayload
    roles: NotRequired[list[str]]
    permissions: NotRequired[str]
    nick: NotRequired[str | None]


class OptionPayload(TypedDict):
    """One option value of a slash command (or the focused one during autocomplete)."""

    name: str
    type: int
    value: NotRequired[Any]
    focused: NotRequired[bool]
    options: NotRequired[list[OptionPayload]]


class DataPayload(TypedDict, total=False):
    """`data` of a command, autocomplete or component interaction."""

    id: str
    name: str
    type: int
    options: list[OptionPayload]
    custom_id: str
    component_type: int


class InteractionPayload(TypedDict):
    """An interaction as Discord POSTs it (only what we read)."""

    id: str
    application_id: str
    type: int
    token: str
    version: NotRequired[int]
    data: NotRequired[DataPayload]
    guild_id: NotRequired[str]
    channel_id: NotRequired[str]
    member: NotRequired[MemberPayload]
    user: NotRequired[UserPayload]
