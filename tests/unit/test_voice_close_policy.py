"""Which voice close codes the connection resumes itself, and which its owner must handle."""

from __future__ import annotations

import pytest

from voice_worker.voice_connection import VoiceDrop, classify


@pytest.mark.parametrize("code", [4015, 4000, 1006, 1001, 4020, None])
def test_resumable_closes_stay_inside_the_connection(code: int | None) -> None:
    # None: a heartbeat timeout or a socket that died without a close frame
    assert classify(code) is None


@pytest.mark.parametrize("code", [4006, 4009])
def test_a_lost_voice_session_is_rejoined_by_its_owner(code: int) -> None:
    assert classify(code) is VoiceDrop.REJOIN


@pytest.mark.parametrize("code", [4021, 4022])
def test_closes_discord_says_not_to_reconnect_after_end_the_call(code: int) -> None:
    assert classify(code) is VoiceDrop.ENDED
