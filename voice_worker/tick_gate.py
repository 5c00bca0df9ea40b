"""Keeping the pacer's readers off the GIL while a 20 ms tick is due or under way.

A pacing thread that wakes for its tick needs the GIL. If a reader holds it then (parsing an
Ogg page of a transcoded stream in Python, say), CPython makes the pacer wait up to the switch
interval (5 ms) before it forces a hand-over, and every guild hears the tick that much late
(bench/: at 25 transcoded streams the pacer woke 2-10 ms late in 3 % of ticks). So readers
stop before each read while a tick is close (``quiet_s`` before it) or its sends run, and
sleep through it: the pacer wakes to a free GIL.
"""

from __future__ import annotations

import threading
import time
from typing import Final

QUIET_S: Final = 0.001  # readers pause this long before a tick is due
_AFTER_S: Final = 0.0002  # and wake this long after it, by when its sends hold the lock


class TickGate:
    """Where the pacing threads' next ticks are, and the lock they hold while sending."""

    def __init__(self, *, quiet_s: float = QUIET_S) -> None:
        self.sending = threading.Lock()  # held by a pacing thread during a tick's sends
        self._quiet_s = quiet_s
        self._next_ticks: dict[int, float] = {}  # pacing thread -> its next tick (perf_counter)

    def next_tick(self, lane: int, at: float) -> None:
        """Pacing thread ``lane`` ticks next at ``at`` (``time.perf_counter``)."""
        self._next_ticks[lane] = at

    def lane_stopped(self, lane: int) -> None:
        """Pacing thread ``lane`` has no more ticks."""
        self._next_ticks.pop(lane, None)

    def wait_turn(self) -> None:
        """Before a reader's read: sleep through a tick that is due within ``quiet_s``, then
        wait out its sends."""
        # list() copies in one step under the GIL: a lane may add itself meanwhile.
        ticks = list(self._next_ticks.values())
        if ticks:
            soonest = min(ticks)
            now = time.perf_counter()
            if soonest - now < self._quiet_s:
                time.sleep(max(0.0, soonest - now) + _AFTER_S)
        with self.sending:
            pass
