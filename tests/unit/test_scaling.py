"""The pure wake-up decision: a job and no fresh heartbeat means wake."""

from __future__ import annotations

import pytest

from shared.scaling import WakeDecision, WakeReason, WakeResult, decide_wake

NOW = 1_700_000_000.0


def test_no_job_never_wakes() -> None:
    assert decide_wake(job_enqueued=False, heartbeat_times=[], now=NOW) == WakeDecision(
        False, WakeReason.NO_JOB
    )


def test_a_job_and_no_heartbeat_wakes() -> None:
    assert decide_wake(job_enqueued=True, heartbeat_times=[], now=NOW) == WakeDecision(
        True, WakeReason.NO_ALIVE_WORKER
    )


@pytest.mark.parametrize("age_s", [0.0, 30.0, 89.9, 90.0])
def test_a_fresh_heartbeat_means_a_worker_will_take_the_job(age_s: float) -> None:
    decision = decide_wake(job_enqueued=True, heartbeat_times=[NOW - age_s], now=NOW)
    assert decision == WakeDecision(False, WakeReason.WORKER_ALIVE)


def test_only_stale_heartbeats_wake() -> None:
    beats = [NOW - 91.0, NOW - 3600.0]
    assert decide_wake(job_enqueued=True, heartbeat_times=beats, now=NOW).wake


def test_one_fresh_heartbeat_among_stale_ones_is_enough() -> None:
    beats = [NOW - 500.0, NOW - 10.0]
    assert not decide_wake(job_enqueued=True, heartbeat_times=iter(beats), now=NOW).wake


def test_heartbeat_ttl_is_configurable() -> None:
    beats = [NOW - 20.0]
    assert decide_wake(job_enqueued=True, heartbeat_times=beats, now=NOW, heartbeat_ttl_s=15).wake


def test_a_heartbeat_far_in_the_future_is_a_broken_clock_not_a_worker() -> None:
    assert decide_wake(job_enqueued=True, heartbeat_times=[NOW + 3600], now=NOW).wake
    assert not decide_wake(job_enqueued=True, heartbeat_times=[NOW + 2], now=NOW).wake


def test_wake_result_reports_a_change() -> None:
    assert WakeResult(0, 1).changed
    assert not WakeResult(2, 2).changed
