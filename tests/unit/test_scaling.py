"""The pure wake-up decision: after a job was enqueued, no live heartbeat means wake."""

from __future__ import annotations

import pytest

from shared.scaling import MAX_HEARTBEAT_AHEAD_S, WakeDecision, WakeReason, WakeResult, decide_wake

NOW = 1_700_000_000.0


def test_no_heartbeat_wakes() -> None:
    assert decide_wake(heartbeat_expiries=[], now=NOW) == WakeDecision(
        True, WakeReason.NO_ALIVE_WORKER
    )


@pytest.mark.parametrize("expires_in_s", [0.001, 1.0, 15.0, MAX_HEARTBEAT_AHEAD_S])
def test_a_live_heartbeat_means_a_worker_will_take_the_job(expires_in_s: float) -> None:
    decision = decide_wake(heartbeat_expiries=[NOW + expires_in_s], now=NOW)
    assert decision == WakeDecision(False, WakeReason.WORKER_ALIVE, alive_until=NOW + expires_in_s)


@pytest.mark.parametrize("expired_s_ago", [0.0, 1.0, 3600.0])
def test_only_expired_heartbeats_wake(expired_s_ago: float) -> None:
    # An expiry of exactly now no longer vouches (WorkerHeartbeat.alive_at: now < expires_at).
    assert decide_wake(heartbeat_expiries=[NOW - expired_s_ago], now=NOW).wake


def test_one_live_heartbeat_among_expired_ones_is_enough_and_the_furthest_counts() -> None:
    expiries = iter([NOW - 500.0, NOW + 10.0, NOW - 1.0, NOW + 4.0])
    decision = decide_wake(heartbeat_expiries=expiries, now=NOW)
    assert not decision.wake
    assert decision.alive_until == NOW + 10.0


def test_an_expiry_far_in_the_future_is_a_broken_clock_not_a_worker() -> None:
    far = NOW + MAX_HEARTBEAT_AHEAD_S + 1
    assert decide_wake(heartbeat_expiries=[far], now=NOW).wake
    near = decide_wake(heartbeat_expiries=[far, NOW + 5], now=NOW)
    assert near == WakeDecision(False, WakeReason.WORKER_ALIVE, alive_until=NOW + 5)
    assert not decide_wake(heartbeat_expiries=[far], now=NOW, max_ahead_s=7200).wake


def test_wake_result_reports_a_change() -> None:
    assert WakeResult(0, 1).changed
    assert not WakeResult(2, 2).changed
