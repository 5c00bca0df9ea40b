"""The per-user rate limiter: sliding window, honest retry hint, bounded memory."""

from __future__ import annotations

import pytest

from interactions.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_limit_then_refuses_with_the_wait() -> None:
    # GIVEN 3 actions per 10 s
    clock = Clock()
    limiter = RateLimiter(limit=3, window_s=10, clock=clock)
    # WHEN a user acts 3 times in 2 s, then once more
    for _ in range(3):
        assert limiter.check("ann") == 0
        clock.now += 1
    wait = limiter.check("ann")
    # THEN the 4th waits until the first action leaves the window
    assert wait == pytest.approx(7.0)
    assert RateLimiter.whole_seconds(wait) == 7


def test_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=1, window_s=5, clock=clock)
    assert limiter.check("ann") == 0
    assert limiter.check("ann") > 0
    clock.now += 5
    assert limiter.check("ann") == 0


def test_refused_attempts_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=1, window_s=10, clock=clock)
    limiter.check("ann")
    for _ in range(50):
        clock.now += 0.1
        limiter.check("ann")
    clock.now = 1010.0
    assert limiter.check("ann") == 0


def test_users_are_independent() -> None:
    limiter = RateLimiter(limit=1, window_s=10, clock=Clock())
    assert limiter.check("ann") == 0
    assert limiter.check("bob") == 0
    assert limiter.check("ann") > 0


def test_memory_is_bounded_and_evicts_the_idlest() -> None:
    # GIVEN room for 100 users
    limiter = RateLimiter(limit=1, window_s=60, max_keys=100, clock=Clock())
    limiter.check("regular")
    # WHEN 1,000 other users act, the regular one acting again in between
    for n in range(1000):
        limiter.check(f"user{n}")
        if n % 50 == 0:
            limiter.check("regular")
    # THEN memory stays bounded, and the recently active user is still tracked (refused)
    assert len(limiter) == 100
    assert limiter.check("regular") > 0


def test_whole_seconds_is_never_zero() -> None:
    assert RateLimiter.whole_seconds(0.001) == 1


@pytest.mark.parametrize("kwargs", [{"limit": 0, "window_s": 1}, {"limit": 1, "window_s": 0}])
def test_nonsense_limits_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]
