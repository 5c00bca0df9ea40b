"""Sorting job failures into retry / answer / dead-letter, and the retry backoff."""

from __future__ import annotations

import random

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.queue import QueueUnavailable
from voice_worker.errors import (
    GatewayNotReady,
    NotInVoice,
    VoiceChannelUnavailable,
    VoiceConnectFailed,
    dave_required,
)
from voice_worker.failures import GENERIC_FAILURE, Disposition, classify, retry_delay_s
from voice_worker.models import QueueFull
from voice_worker.sources import ResolveTimeout, SourceUnavailable, UnsafeUrl
from voice_worker.sources.errors import unsafe


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (NotInVoice("not_in_voice"), "Join a voice channel first."),
        (VoiceChannelUnavailable("channel_full", "<#1> is full."), "<#1> is full."),
        (SourceUnavailable("gone"), SourceUnavailable.default_message),
        (
            unsafe("metadata_address"),
            "That link points to a cloud metadata address and can't be played.",
        ),
        (UnsafeUrl("scheme"), UnsafeUrl.default_message),
        (ResolveTimeout("timeout"), ResolveTimeout.default_message),
        (QueueFull(100), "The queue is full (100 tracks)."),
    ],
)
def test_user_facing_failures_are_answered(exc: Exception, message: str) -> None:
    verdict = classify(exc)
    assert verdict.disposition is Disposition.ANSWER
    assert verdict.user_message == message


@pytest.mark.parametrize(
    "exc",
    [
        QueueUnavailable("down"),
        GatewayNotReady("starting"),
        VoiceConnectFailed("timeout"),
        aiohttp.ClientConnectionError("reset"),
        TimeoutError(),
        dave_required(),  # this worker can't do voice; another one may
    ],
)
def test_transient_failures_are_retried_silently(exc: Exception) -> None:
    verdict = classify(exc)
    assert verdict.disposition is Disposition.RETRY
    assert verdict.user_message is None


def test_bugs_are_dead_lettered_with_a_generic_answer() -> None:
    verdict = classify(KeyError("oops"))
    assert verdict.disposition is Disposition.DEAD_LETTER
    assert verdict.user_message == GENERIC_FAILURE
    assert verdict.reason == "unexpected:KeyError"
    # The error's own text never reaches the user.
    assert "oops" not in (verdict.user_message or "")


def test_backoff_doubles_up_to_the_cap() -> None:
    fixed = random.Random(0)
    ceilings = [retry_delay_s(n, base_s=2, cap_s=60, rng=fixed) for n in range(1, 9)]
    assert ceilings[0] <= 2.0
    assert ceilings[-1] <= 60.0


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_is_positive_and_bounded(receive_count: int) -> None:
    delay = retry_delay_s(receive_count, base_s=2, cap_s=60)
    assert 0 < delay <= 60
