"""A per-user sliding-window rate limiter with bounded memory.

It lives in one process: in the Lambda that means one warm container, so it only slows down
a user hammering buttons, it is not a global quota (Discord's own limits are the backstop).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class RateLimiter:
    """At most `limit` actions per `window_s` per key; remembers at most `max_keys` keys."""

    def __init__(
        self,
        *,
        limit: int,
        window_s: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be >= 1 and window_s > 0")
        self._limit = limit
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        # Least recently active key first, so eviction drops the idlest user.
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def check(self, key: str) -> float:
        """Record an action; return 0 when allowed, else the seconds to wait before retrying."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = deque(maxlen=self._limit)
            self._hits[key] = hits
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self._window_s:
            hits.popleft()
        if len(hits) >= self._limit:
            # Refused actions are not recorded: waiting the advertised time is always enough.
            return max(self._window_s - (now - hits[0]), 0.001)
        hits.append(now)
        return 0.0

    @staticmethod
    def whole_seconds(wait_s: float) -> int:
        """A wait rounded up for humans (never 0)."""
        return max(1, math.ceil(wait_s))
