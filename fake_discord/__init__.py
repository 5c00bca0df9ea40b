"""A fake Discord on 127.0.0.1 for tests and demos: REST (checked against Discord's OpenAPI
spec), the gateway, the voice gateway and a UDP ear that decodes and measures the audio.

Import :class:`FakeDiscord` from here; :mod:`fake_discord.pointing` points discord.py at it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fake_discord.core import SeededGuild
    from fake_discord.ear import EarReport, Segment
    from fake_discord.faults import Fault
    from fake_discord.interactions import InteractionRecord, InteractionType
    from fake_discord.records import Failure, RecordedRequest
    from fake_discord.server import FakeDiscord
    from fake_discord.world import GuildSpec

__all__ = [
    "EarReport",
    "Failure",
    "FakeDiscord",
    "Fault",
    "GuildSpec",
    "InteractionRecord",
    "InteractionType",
    "RecordedRequest",
    "SeededGuild",
    "Segment",
]

_LOCATIONS = {
    "SeededGuild": "fake_discord.core",
    "EarReport": "fake_discord.ear",
    "Segment": "fake_discord.ear",
    "Fault": "fake_discord.faults",
    "InteractionRecord": "fake_discord.interactions",
    "InteractionType": "fake_discord.interactions",
    "Failure": "fake_discord.records",
    "RecordedRequest": "fake_discord.records",
    "FakeDiscord": "fake_discord.server",
    "GuildSpec": "fake_discord.world",
}


def __getattr__(name: str) -> Any:
    # Lazy: `musicbot --help` imports fake_discord.cli, which must stay cheap.
    if name in _LOCATIONS:
        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'fake_discord' has no attribute {name!r}")
