"""Errors of the state store; each name says what the caller should do next."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The store could not be read or written now (network, throttling, locked or full disk).

    Transient: try again later; never take it as an answer (e.g. as "the lease is lost").
    """


class StaleState(RuntimeError):
    """Someone saved the guild since this state was read: reload, re-apply the change, save."""

    def __init__(self, guild_id: str, expected_version: int) -> None:
        super().__init__(f"guild {guild_id} is no longer at version {expected_version}")
        self.guild_id = guild_id
        self.expected_version = expected_version


class LeaseLost(RuntimeError):
    """The writer no longer holds the guild's lease: stop playing there and leave its channel."""

    def __init__(self, guild_id: str) -> None:
        super().__init__(f"the lease of guild {guild_id} is held by another worker")
        self.guild_id = guild_id


class QueueFull(ValueError):
    """More tracks than the bound allows: tell the user, don't retry."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} tracks")
        self.limit = limit


class StateTooLarge(ValueError):
    """A state or playlist too big for one item even compressed: a bug or abuse; no retry."""
