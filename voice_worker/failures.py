"""Sorting a failed job into retry, answer or dead-letter: a pure function, tested on its own."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
import discord

from shared.queue import QueueUnavailable
from voice_worker.errors import FatalConfigError, TransientError, UserFacingError
from voice_worker.models import QueueFull
from voice_worker.sources.errors import SourceError

GENERIC_FAILURE = "Something went wrong with that command. Please try again later."
GAVE_UP = "I couldn't complete that command after several tries. Please try again later."
NO_PERMISSION = "I don't have permission to do that in this server."


class Disposition(StrEnum):
    """What the consumer does with a failed job."""

    RETRY = "retry"
    ANSWER = "answer"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Verdict:
    """The decision for one failure: what to do, what to tell the user, what to log."""

    disposition: Disposition
    reason: str
    user_message: str | None = None


def classify(exc: BaseException) -> Verdict:
    """Decide what a job's failure means."""
    if isinstance(exc, SourceError | UserFacingError):
        return Verdict(Disposition.ANSWER, exc.reason, exc.user_message)
    if isinstance(exc, QueueFull):
        return Verdict(Disposition.ANSWER, "queue_full", f"The queue is full ({exc.limit} tracks).")
    if isinstance(exc, FatalConfigError):
        # The worker can't serve anyone; another worker (or a fixed deployment) may.
        return Verdict(Disposition.RETRY, exc.reason)
    if isinstance(exc, discord.Forbidden):
        return Verdict(Disposition.ANSWER, "forbidden", NO_PERMISSION)
    if isinstance(exc, discord.DiscordServerError):
        return Verdict(Disposition.RETRY, "discord_5xx")
    if isinstance(exc, QueueUnavailable | TransientError):
        return Verdict(Disposition.RETRY, type(exc).__name__)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | ConnectionError):
        return Verdict(Disposition.RETRY, type(exc).__name__)
    return Verdict(Disposition.DEAD_LETTER, f"unexpected:{type(exc).__name__}", GENERIC_FAILURE)


def retry_delay_s(
    receive_count: int,
    *,
    base_s: float = 2.0,
    cap_s: float = 60.0,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with full jitter for the n-th receive (1-based)."""
    ceiling = min(cap_s, base_s * 2.0 ** min(30, max(0, receive_count - 1)))
    jitter = (rng or random).uniform(0.5, 1.0)
    return round(ceiling * jitter, 3)
