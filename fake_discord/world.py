"""The fake's model of Discord's state: seeded guilds, users, permissions and voice states."""

from __future__ import annotations

import datetime
import enum
import itertools
import time
from dataclasses import dataclass, field

DISCORD_EPOCH_MS = 1_420_070_400_000


class Permission(enum.IntFlag):
    """The permission bits the fake cares about (values from Discord's docs)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38


EVERYONE_PERMISSIONS = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.CONNECT
    | Permission.SPEAK
    | Permission.USE_VAD
    | Permission.CHANGE_NICKNAME
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.SEND_MESSAGES_IN_THREADS
)
ALL_PERMISSIONS = (1 << 53) - 1


class SnowflakeFactory:
    """Makes Discord-shaped snowflakes: milliseconds since 2015 << 22, then worker and counter."""

    def __init__(self, worker_id: int = 1) -> None:
        self._worker_id = worker_id & 0x1F
        self._counter = itertools.count()

    def next(self) -> str:
        """A new, unique snowflake as a decimal string."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        increment = next(self._counter) & 0xFFF
        return str((millis << 22) | (self._worker_id << 17) | increment)


def iso_now() -> str:
    """Discord's ISO 8601 timestamp format for 'now'."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class GuildSpec:
    """How to seed one guild; the defaults give the bot everything a music bot needs."""

    name: str | None = None
    bot_can_connect: bool = True
    bot_can_speak: bool = True
    bot_can_send_messages: bool = True
    voice_user_limit: int = 0


@dataclass
class User:
    """A user account (the bot or a human)."""

    id: str
    username: str
    bot: bool = False


@dataclass
class Overwrite:
    """A channel permission overwrite (type 0 = role, 1 = member)."""

    id: str
    type: int
    allow: int = 0
    deny: int = 0


@dataclass
class Channel:
    """A guild channel: type 0 is text, type 2 is voice."""

    id: str
    guild_id: str
    type: int
    name: str
    position: int
    overwrites: list[Overwrite] = field(default_factory=list)
    user_limit: int = 0
    bitrate: int = 64_000


@dataclass
class Role:
    """A guild role; the @everyone role shares the guild's id."""

    id: str
    name: str
    permissions: int
    position: int = 0


@dataclass
class Member:
    """A user's membership of a guild."""

    user: User
    role_ids: list[str]
    joined_at: str


@dataclass
class VoiceState:
    """Who is in which voice channel; ``session_id`` is the owning gateway session's id."""

    guild_id: str
    user_id: str
    channel_id: str
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False


@dataclass
class Guild:
    """A seeded guild with one text channel, one voice channel, one human and the bot."""

    id: str
    name: str
    owner_id: str
    roles: dict[str, Role]
    channels: dict[str, Channel]
    members: dict[str, Member]
    text_channel_id: str
    voice_channel_id: str
    human_user_id: str
    bot_role_id: str
    voice_states: dict[str, VoiceState] = field(default_factory=dict)

    def permissions_in(self, user_id: str, channel_id: str) -> int:
        """A member's effective permissions in a channel, computed the way Discord does."""
        member = self.members[user_id]
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        base = self.roles[self.id].permissions
        for role_id in member.role_ids:
            base |= self.roles[role_id].permissions
        if base & Permission.ADMINISTRATOR:
            return ALL_PERMISSIONS
        channel = self.channels[channel_id]
        by_id = {o.id: o for o in channel.overwrites}
        everyone = by_id.get(self.id)
        if everyone is not None:
            base = (base & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            overwrite = by_id.get(role_id)
            if overwrite is not None:
                allow |= overwrite.allow
                deny |= overwrite.deny
        base = (base & ~deny) | allow
        own = by_id.get(user_id)
        if own is not None and own.type == 1:
            base = (base & ~own.deny) | own.allow
        return base

    def users_in_channel(self, channel_id: str) -> list[str]:
        """User ids whose voice state is in ``channel_id``."""
        return [s.user_id for s in self.voice_states.values() if s.channel_id == channel_id]


def seed_guild(ids: SnowflakeFactory, spec: GuildSpec, index: int, bot: User, human: User) -> Guild:
    """Build one guild from its spec: roles, a text and a voice channel, the human and the bot."""
    guild_id = ids.next()
    bot_role_id = ids.next()
    text_id, voice_id = ids.next(), ids.next()
    roles = {
        guild_id: Role(guild_id, "@everyone", int(EVERYONE_PERMISSIONS)),
        bot_role_id: Role(bot_role_id, bot.username, int(EVERYONE_PERMISSIONS), position=1),
    }
    voice_deny = (0 if spec.bot_can_connect else Permission.CONNECT) | (
        0 if spec.bot_can_speak else Permission.SPEAK
    )
    text_deny = 0 if spec.bot_can_send_messages else int(Permission.SEND_MESSAGES)
    channels = {
        text_id: Channel(
            text_id,
            guild_id,
            0,
            "general",
            0,
            [Overwrite(bot_role_id, 0, deny=text_deny)] if text_deny else [],
        ),
        voice_id: Channel(
            voice_id,
            guild_id,
            2,
            "Music",
            1,
            [Overwrite(bot_role_id, 0, deny=int(voice_deny))] if voice_deny else [],
            user_limit=spec.voice_user_limit,
        ),
    }
    joined = iso_now()
    members = {
        human.id: Member(human, [], joined),
        bot.id: Member(bot, [bot_role_id], joined),
    }
    return Guild(
        id=guild_id,
        name=spec.name or f"Fake Guild {index + 1}",
        owner_id=human.id,
        roles=roles,
        channels=channels,
        members=members,
        text_channel_id=text_id,
        voice_channel_id=voice_id,
        human_user_id=human.id,
        bot_role_id=bot_role_id,
    )


def shard_for(guild_id: str, shard_count: int) -> int:
    """Discord's shard formula: ``(guild_id >> 22) % num_shards``."""
    return (int(guild_id) >> 22) % shard_count
