"""Identify pacing and the handled-jobs memory: pure, with injected clocks."""

from __future__ import annotations

from voice_worker.idempotency import RecentJobs
from voice_worker.identify import BackoffIdentifyGate, SessionStartLimit


class FakeTime:
    """A clock and a sleep that only advance when told (or slept)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


async def test_first_identify_is_immediate_then_backoff_doubles() -> None:
    time = FakeTime()
    gate = BackoffIdentifyGate(interval_s=5, cap_s=40, clock=time.clock, sleep=time.sleep)
    for _ in range(6):
        await gate.wait_turn(initial=False)
    # 0 (first), then 5, 10, 20, 40, 40: a dying session slows down instead of burning identifies.
    assert time.slept == [5.0, 10.0, 20.0, 40.0, 40.0]


async def test_backoff_forgets_identifies_outside_the_window() -> None:
    time = FakeTime()
    gate = BackoffIdentifyGate(interval_s=5, window_s=100, clock=time.clock, sleep=time.sleep)
    await gate.wait_turn(initial=True)
    time.now += 500
    await gate.wait_turn(initial=False)
    assert time.slept == []


async def test_nearly_spent_budget_waits_for_the_reset() -> None:
    time = FakeTime()
    gate = BackoffIdentifyGate(reserve=20, clock=time.clock, sleep=time.sleep)
    gate.set_limit(
        SessionStartLimit.from_payload({"total": 1000, "remaining": 3, "reset_after": 7_200_000})
    )
    await gate.wait_turn(initial=True)
    assert time.slept == [7200.0]
    # The budget is unknown after the reset: no second wait.
    await gate.wait_turn(initial=False)
    assert time.slept == [7200.0, 5.0]


def test_session_start_limit_parses_discords_milliseconds() -> None:
    limit = SessionStartLimit.from_payload(
        {"total": 1000, "remaining": 998, "reset_after": 1500, "max_concurrency": 1}
    )
    assert limit == SessionStartLimit(total=1000, remaining=998, reset_after_s=1.5)


async def test_recent_jobs_expire_and_stay_bounded() -> None:
    time = FakeTime()
    jobs = RecentJobs(ttl_s=60, max_entries=3, clock=time.clock)
    for job_id in ("1", "2", "3", "4"):
        await jobs.mark_handled(job_id)
    assert not await jobs.was_handled("1")  # pushed out by the bound
    assert await jobs.was_handled("4")
    time.now += 61
    assert not await jobs.was_handled("4")
    assert len(jobs) == 0


def test_replies_to_fresh_jobs_wait_for_discord_to_take_the_deferral() -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from voice_worker.reporting import MIN_REPLY_AGE_S, reply_delay_s  # noqa: PLC0415

    now = datetime.now(UTC)
    assert reply_delay_s(now, now) == MIN_REPLY_AGE_S
    assert reply_delay_s(now - timedelta(seconds=0.2), now) == MIN_REPLY_AGE_S - 0.2
    assert reply_delay_s(now - timedelta(minutes=5), now) == 0.0
    assert reply_delay_s(now + timedelta(seconds=3), now) == MIN_REPLY_AGE_S  # clock skew
