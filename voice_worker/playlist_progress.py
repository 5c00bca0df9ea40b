"""A big playlist's /play: added in batches, its progress shown in the deferred reply.

The session adds a playlist's tracks BATCH at a time, each batch under its lock and saved (so
other commands and /queue see them arrive), and between batches edits the deferred reply
("Adding tracks… 50/200"). ProgressThrottle keeps those edits to one per STEP tracks or per
INTERVAL_S, whichever comes first, and never one without news: the interaction webhook allows
only a few edits a second. The last word is the job's reply ("Queued 200 tracks…").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from voice_worker.player_commands import tracks

# Tracks added per lock hold and per progress edit.
BATCH = 50
STEP = 50
INTERVAL_S = 2.0


class ProgressThrottle:
    """Decides when a progress edit is worth sending (pure; the clock is injected)."""

    def __init__(
        self,
        *,
        step: int = STEP,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._step = step
        self._interval_s = interval_s
        self._clock = clock
        self._reported = 0
        self._reported_at = clock()

    def due(self, done: int) -> bool:
        """True (and noted as reported) when ``done`` is news worth an edit now."""
        now = self._clock()
        news = done - self._reported
        if news <= 0 or (news < self._step and now - self._reported_at < self._interval_s):
            return False
        self._reported, self._reported_at = done, now
        return True


def adding_text(done: int, total: int) -> str:
    """The progress line: 'Adding tracks… 50/200'."""
    return f"Adding tracks… {done}/{total}"


def playlist_reply(
    label: str, *, added: int, asked: int, started: bool, position: int, truncated: bool
) -> str:
    """The final word on a playlist: what plays, how many were queued, what was left out.

    added/asked count the tracks after the first one (which plays now, or sits at position).
    """
    if started:
        text = f"Queued {tracks(added + 1)}: now playing **{label}**."
    else:
        text = f"Queued {tracks(added + 1)}, starting with **{label}** (position {position})."
    if added < asked:
        text += f" The queue is full: {tracks(asked - added)} left out."
    elif truncated:
        text += " That's as many as one link may add: the rest of the playlist was left out."
    return text
