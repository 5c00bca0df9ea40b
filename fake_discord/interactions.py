"""Interactions: minting realistic payloads, and Discord's rules for responding to them."""

from __future__ import annotations

import base64
import enum
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fake_discord.payloads import (
    ATTACHMENT_SIZE_LIMIT,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    apply_message_edit,
    channel_payload,
    is_empty_message,
    member_payload,
    message_payload,
    user_payload,
)
from fake_discord.store import CommandStore, MessageStore
from fake_discord.world import Guild, SnowflakeFactory, User

JSON = dict[str, Any]


class InteractionType(enum.IntEnum):
    """Discord's interaction types."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


# Which callback types Discord accepts for each interaction type.
_ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    InteractionType.PING: frozenset({1}),
    InteractionType.APPLICATION_COMMAND: frozenset({4, 5, 9, 12}),
    InteractionType.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset({8}),
    InteractionType.MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}
_OPTION_TYPES = {str: 3, bool: 5, int: 4, float: 10}


class Reply(NamedTuple):
    """A REST answer; ``failure`` says why the client was wrong (recorded as a failure)."""

    status: int
    body: Any
    failure: str | None = None


def error(status: int, code: int, message: str, failure: str | None = None) -> Reply:
    """A Discord error reply (``{"code", "message"}``)."""
    return Reply(status, {"code": code, "message": message}, failure or message)


UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")


@dataclass
class InteractionRecord:
    """One interaction and everything that happened to it."""

    id: str
    token: str
    type: int
    guild_id: str | None
    channel_id: str
    user_id: str
    payload: JSON
    issued_monotonic: float = field(default_factory=time.monotonic)
    issued_wall: float = field(default_factory=time.time)
    delivered_via: str | None = None
    http_status: int | None = None
    http_body: Any = None
    http_elapsed_s: float | None = None
    http_error: str | None = None
    initial_response: JSON | None = None
    initial_response_via: str | None = None
    initial_response_elapsed_s: float | None = None
    original: JSON | None = None
    original_edits: list[JSON] = field(default_factory=list)
    original_deleted: bool = False
    followups: list[JSON] = field(default_factory=list)
    force_expired: bool = False

    @property
    def acknowledged(self) -> bool:
        """Whether an initial response was accepted."""
        return self.initial_response is not None

    @property
    def deferred(self) -> bool:
        """Whether the initial response was a deferral (type 5 or 6)."""
        return self.initial_response is not None and self.initial_response.get("type") in (5, 6)

    @property
    def original_content(self) -> str | None:
        """The @original message's current content (None when there is none)."""
        return None if self.original is None else str(self.original.get("content", ""))

    def age_s(self) -> float:
        """Seconds since the interaction was issued."""
        return time.monotonic() - self.issued_monotonic

    def to_json(self) -> JSON:
        """A JSON-able view (the token included: this is a test harness)."""
        return {
            "id": self.id,
            "token": self.token,
            "type": self.type,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "user_id": self.user_id,
            "delivered_via": self.delivered_via,
            "http_status": self.http_status,
            "http_body": self.http_body,
            "http_elapsed_s": self.http_elapsed_s,
            "http_error": self.http_error,
            "initial_response": self.initial_response,
            "initial_response_via": self.initial_response_via,
            "initial_response_elapsed_s": self.initial_response_elapsed_s,
            "original": self.original,
            "original_edits": self.original_edits,
            "original_deleted": self.original_deleted,
            "followups": self.followups,
            "expired": self.force_expired,
            "payload": self.payload,
        }


def _token_for(interaction_id: str) -> str:
    # Real tokens are base64 of "interaction:<id>:<secret>"; log redaction relies on that shape.
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(96)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _options(
    options: Mapping[str, Any] | Sequence[JSON] | None, command: JSON | None, focused: str | None
) -> list[JSON]:
    if options is None:
        return []
    if not isinstance(options, Mapping):
        return [dict(o) for o in options]
    declared = {o["name"]: o for o in (command or {}).get("options", [])}
    result = []
    for name, value in options.items():
        kind = declared.get(name, {}).get("type") or _OPTION_TYPES.get(type(value), 3)
        option: JSON = {"name": name, "type": kind, "value": value}
        if name == focused:
            option["focused"] = True
        result.append(option)
    return result


class InteractionLedger:
    """Issues interactions and applies Discord's rules to responses, follow-ups and edits."""

    def __init__(
        self,
        ids: SnowflakeFactory,
        messages: MessageStore,
        commands: CommandStore,
        application_id: str,
        bot: User,
        *,
        initial_deadline_s: float = 3.0,
        token_ttl_s: float = 900.0,
    ) -> None:
        self._ids = ids
        self._messages = messages
        self._commands = commands
        self.application_id = application_id
        self._bot = bot
        self.initial_deadline_s = initial_deadline_s
        self.token_ttl_s = token_ttl_s
        self.by_id: dict[str, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}

    def mint(
        self,
        guild: Guild,
        *,
        kind: InteractionType = InteractionType.APPLICATION_COMMAND,
        user_id: str | None = None,
        name: str = "play",
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        custom_id: str = "button",
        message_id: str | None = None,
        focused: str | None = None,
        locale: str = "en-US",
        values: Sequence[str] | None = None,
    ) -> InteractionRecord:
        """Create an interaction the way Discord would send it for ``user_id`` in ``guild``.

        ``values``: a component interaction from a string select (type 3) with those choices.
        """
        user_id = user_id or guild.human_user_id
        interaction_id = self._ids.next()
        token = _token_for(interaction_id)
        channel = guild.channels[guild.text_channel_id]
        payload: JSON = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": int(kind),
            "token": token,
            "version": 1,
            "guild_id": guild.id,
            "guild": {"id": guild.id, "locale": "en-US", "features": []},
            "channel_id": channel.id,
            "channel": {
                **channel_payload(channel),
                "permissions": str(guild.permissions_in(user_id, channel.id)),
            },
            "member": member_payload(
                guild.members[user_id], permissions=guild.permissions_in(user_id, channel.id)
            ),
            "app_permissions": str(guild.permissions_in(self._bot.id, channel.id)),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": guild.id},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if kind in (
            InteractionType.APPLICATION_COMMAND,
            InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
        ):
            command = self._commands.find(name, guild.id)
            data: JSON = {
                "id": command["id"] if command else self._ids.next(),
                "name": name,
                "type": command.get("type", 1) if command else 1,
                "options": _options(options, command, focused),
            }
            if command is not None and command.get("guild_id"):
                data["guild_id"] = command["guild_id"]
            payload["data"] = data
        elif kind == InteractionType.MESSAGE_COMPONENT:
            payload["data"] = {"custom_id": custom_id, "component_type": 2}
            if values is not None:
                payload["data"] = {
                    "custom_id": custom_id,
                    "component_type": 3,
                    "values": list(values),
                }
            payload["message"] = self._component_message(channel.id, message_id)
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=int(kind),
            guild_id=guild.id,
            channel_id=channel.id,
            user_id=user_id,
            payload=payload,
        )
        self.by_id[interaction_id] = record
        self._by_token[token] = record
        return record

    def mint_ping(self) -> InteractionRecord:
        """A PING, as Discord sends to check an interactions endpoint URL."""
        interaction_id = self._ids.next()
        token = _token_for(interaction_id)
        payload: JSON = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": 1,
            "token": token,
            "version": 1,
            "user": user_payload(self._bot),
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        return InteractionRecord(interaction_id, token, 1, None, "", self._bot.id, payload)

    def _component_message(self, channel_id: str, message_id: str | None) -> JSON:
        if message_id is not None:
            found = self._messages.get(channel_id, message_id)
            if found is not None:
                return found
        for message in reversed(self._messages.list(channel_id)):
            if message["author"]["id"] == self._bot.id:
                return message
        return self._messages.add(
            message_payload(
                self._ids.next(),
                channel_id,
                self._bot,
                {"content": "Now playing"},
                application_id=self.application_id,
            )
        )

    # --- the initial response -------------------------------------------------------------
    def respond(
        self, record: InteractionRecord, body: JSON, *, via: str, with_response: bool = False
    ) -> Reply:
        """Apply an initial response (callback route or HTTP answer) under Discord's rules."""
        if record.acknowledged:
            return error(400, 40060, "Interaction has already been acknowledged.")
        if record.force_expired or record.age_s() > self.initial_deadline_s:
            return error(
                404,
                10062,
                "Unknown interaction",
                f"initial response after {record.age_s():.2f} s (deadline "
                f"{self.initial_deadline_s:g} s)",
            )
        callback_type = int(body.get("type", 0))
        if callback_type not in _ALLOWED_CALLBACKS.get(record.type, frozenset()):
            return Reply(
                400,
                {
                    "code": 50035,
                    "message": "Invalid Form Body",
                    "errors": {
                        "type": {
                            "_errors": [
                                {
                                    "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                    "message": (
                                        f"Callback type {callback_type} is not valid "
                                        f"for interaction type {record.type}."
                                    ),
                                }
                            ]
                        }
                    },
                },
                f"callback type {callback_type} invalid for interaction type {record.type}",
            )
        data: JSON = body.get("data") or {}
        if callback_type == 4 and is_empty_message(data, has_files=False):
            return error(400, 50006, "Cannot send an empty message")
        record.initial_response = body
        record.initial_response_via = via
        record.initial_response_elapsed_s = record.age_s()
        if callback_type in (4, 5):
            loading = MESSAGE_FLAG_LOADING if callback_type == 5 else 0
            ephemeral = int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL
            message_body = {} if callback_type == 5 else data
            record.original = self._messages.add(
                message_payload(
                    self._ids.next(),
                    record.channel_id,
                    self._bot,
                    message_body,
                    flags=loading | ephemeral,
                    application_id=self.application_id,
                    interaction=self._metadata(record),
                )
            )
        elif callback_type in (6, 7):
            record.original = record.payload.get("message")
            if callback_type == 7 and record.original is not None:
                apply_message_edit(record.original, data)
        if not with_response:
            return Reply(204, None)
        return Reply(200, self._callback_response(record, callback_type))

    def _metadata(self, record: InteractionRecord) -> JSON:
        return {
            "id": record.id,
            "type": record.type,
            "user": record.payload.get("member", {}).get("user") or record.payload.get("user"),
            "authorizing_integration_owners": record.payload["authorizing_integration_owners"],
        }

    def _callback_response(self, record: InteractionRecord, callback_type: int) -> JSON:
        interaction: JSON = {"id": record.id, "type": record.type}
        result: JSON = {"interaction": interaction}
        if record.original is not None:
            interaction["response_message_id"] = record.original["id"]
            interaction["response_message_loading"] = bool(
                record.original["flags"] & MESSAGE_FLAG_LOADING
            )
            interaction["response_message_ephemeral"] = bool(
                record.original["flags"] & MESSAGE_FLAG_EPHEMERAL
            )
            if callback_type in (4, 7):
                result["resource"] = {"type": callback_type, "message": record.original}
        return result

    # --- the follow-up webhook ----------------------------------------------------------------
    def webhook(self, application_id: str, token: str) -> InteractionRecord | Reply:
        """The interaction behind a webhook token, or the error Discord gives for it."""
        record = self._by_token.get(token)
        if application_id != self.application_id or record is None:
            return error(*UNKNOWN_WEBHOOK)
        if record.force_expired or record.age_s() > self.token_ttl_s:
            return error(
                401,
                50027,
                "Invalid Webhook Token",
                f"interaction token used {record.age_s():.0f} s after issue (expired)",
            )
        if not record.acknowledged:
            return error(*UNKNOWN_WEBHOOK, failure="follow-up before the initial response")
        return record

    def execute(self, record: InteractionRecord, body: JSON, has_files: bool) -> Reply:
        """A follow-up message; after a deferral the first one fills the loading message."""
        if is_empty_message(body, has_files):
            return error(400, 50006, "Cannot send an empty message")
        original = record.original
        if (
            original is not None
            and not record.original_deleted
            and not record.followups
            and original["flags"] & MESSAGE_FLAG_LOADING
        ):
            apply_message_edit(original, body)
            record.original_edits.append(body)
            return Reply(200, original)
        message = self._messages.add(
            message_payload(
                self._ids.next(),
                record.channel_id,
                self._bot,
                body,
                flags=int(body.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL,
                application_id=self.application_id,
                interaction=self._metadata(record),
            )
        )
        record.followups.append(message)
        return Reply(200, message)

    def find_message(self, record: InteractionRecord, message_id: str) -> JSON | None:
        """``@original`` or a follow-up by id."""
        if message_id == "@original":
            return None if record.original_deleted else record.original
        if record.original is not None and record.original["id"] == message_id:
            return None if record.original_deleted else record.original
        return next((m for m in record.followups if m["id"] == message_id), None)

    def edit(self, record: InteractionRecord, message_id: str, body: JSON) -> Reply:
        """PATCH ``@original`` or a follow-up."""
        message = self.find_message(record, message_id)
        if message is None:
            return error(*UNKNOWN_MESSAGE)
        apply_message_edit(message, body)
        if message is record.original:
            record.original_edits.append(body)
        return Reply(200, message)

    def delete(self, record: InteractionRecord, message_id: str) -> Reply:
        """DELETE ``@original`` or a follow-up."""
        message = self.find_message(record, message_id)
        if message is None:
            return error(*UNKNOWN_MESSAGE)
        self._messages.delete(message["channel_id"], message["id"])
        if message is record.original:
            record.original_deleted = True
        else:
            record.followups.remove(message)
        return Reply(204, None)
