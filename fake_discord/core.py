"""The fake's shared state: identities, guilds, stores, records and change notification."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from fake_discord.faults import FaultInjector
from fake_discord.interactions import InteractionLedger
from fake_discord.records import Recorder
from fake_discord.spec import OpenApiSpec
from fake_discord.store import CommandStore, MessageStore
from fake_discord.world import Guild, GuildSpec, SnowflakeFactory, User, seed_guild

JSON = dict[str, Any]
# (guild_id, event name, data, intent bit required or None)
GuildDispatcher = Callable[[str, str, JSON, int | None], None]

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_VOICE_STATES = 1 << 7
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT
# Every intent bit Discord defines today (0-21 plus 24-25); anything else is "invalid" (4013).
KNOWN_INTENTS = ((1 << 22) - 1) | (1 << 24) | (1 << 25)


@dataclass(frozen=True)
class SeededGuild:
    """The ids a test needs for one seeded guild."""

    guild_id: str
    text_channel_id: str
    voice_channel_id: str
    user_id: str
    name: str

    def to_json(self) -> JSON:
        """A JSON-able dict."""
        return {
            "guild_id": self.guild_id,
            "text_channel_id": self.text_channel_id,
            "voice_channel_id": self.voice_channel_id,
            "user_id": self.user_id,
            "name": self.name,
        }


class Changes:
    """A pulse that wakes everyone waiting for the fake's state to change."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def pulse(self) -> None:
        """Wake current waiters (callable from sync code on the loop)."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Return once ``predicate()`` holds; raise TimeoutError after ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout_s:g} s")
            event = self._event
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.5))
            except TimeoutError:
                continue  # re-check: some state (like audio) changes without a pulse


def _bot_token(bot_id: str) -> str:
    # Same shape as a real token: base64(user id) . 6 chars . 38 chars.
    head = base64.urlsafe_b64encode(bot_id.encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(28)}"


class Core:
    """Everything the REST, gateway and voice servers share."""

    def __init__(
        self,
        guilds: int | Sequence[GuildSpec] = 1,
        *,
        bot_token: str | None = None,
        interactions_url: str | None = None,
        initial_deadline_s: float = 3.0,
        token_ttl_s: float = 900.0,
    ) -> None:
        self.changes = Changes()
        self.ids = SnowflakeFactory()
        self.application_id = self.ids.next()
        # A bot user's id equals its application's id.
        self.bot = User(self.application_id, "FakeMusicBot", bot=True)
        self.bot_token = bot_token or _bot_token(self.bot.id)
        self.owner = User(self.ids.next(), "appowner")
        self.signing_key = SigningKey.generate()
        self.public_key_hex = self.signing_key.verify_key.encode().hex()
        self.interactions_url = interactions_url
        specs = [GuildSpec()] * guilds if isinstance(guilds, int) else list(guilds)
        self.guilds: dict[str, Guild] = {}
        for index, spec in enumerate(specs):
            human = User(self.ids.next(), f"listener{index + 1}")
            guild = seed_guild(self.ids, spec, index, self.bot, human)
            self.guilds[guild.id] = guild
        self.messages = MessageStore()
        self.commands = CommandStore()
        self.recorder = Recorder(self.changes.pulse)
        self.faults = FaultInjector()
        self.spec = OpenApiSpec()
        self.ledger = InteractionLedger(
            self.ids,
            self.messages,
            self.commands,
            self.application_id,
            self.bot,
            initial_deadline_s=initial_deadline_s,
            token_ttl_s=token_ttl_s,
        )
        self.gateway_url = ""
        self.voice_host = "127.0.0.1"
        self.voice_endpoint = ""
        self.identify_times: list[float] = []
        self.session_start_total = 1000
        self.dispatch_guild: GuildDispatcher = lambda *_: None

    @property
    def seeded(self) -> list[SeededGuild]:
        """The seeded guilds' ids, in seeding order."""
        return [
            SeededGuild(g.id, g.text_channel_id, g.voice_channel_id, g.human_user_id, g.name)
            for g in self.guilds.values()
        ]

    def guild(self, guild: str | int | None = None) -> Guild:
        """A guild by id, by index into the seeded guilds, or the first one."""
        if guild is None:
            return next(iter(self.guilds.values()))
        if isinstance(guild, int) and guild < len(self.guilds):
            return list(self.guilds.values())[guild]
        return self.guilds[str(guild)]

    def find_channel(self, channel_id: str) -> Guild | None:
        """The guild owning a channel."""
        return next((g for g in self.guilds.values() if channel_id in g.channels), None)

    def session_start_remaining(self) -> int:
        """Identifies left in the 24 h window (Discord's ``session_start_limit``)."""
        day_ago = time.monotonic() - 86_400
        return max(0, self.session_start_total - sum(t > day_ago for t in self.identify_times))
