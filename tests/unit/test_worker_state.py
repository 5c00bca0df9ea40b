"""The session state machine, the bounded track queue and the snapshot model."""

from __future__ import annotations

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from voice_worker.models import (
    TRANSITIONS,
    GuildSnapshot,
    NowPlaying,
    QueuedTrack,
    QueueFull,
    SessionState,
    TrackQueue,
)
from voice_worker.sources import TrackRef
from voice_worker.state import InvalidTransition, StateMachine


def item(n: int) -> QueuedTrack:
    ref = TrackRef(title=f"track {n}", webpage_url=f"https://example.com/{n}")
    return QueuedTrack(
        ref=ref, requester_id="1", requester_name="ann", job_id=str(n), entry_id=f"e{n}"
    )


def test_every_state_has_a_row_and_closed_is_terminal() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    assert TRANSITIONS[SessionState.CLOSED] == frozenset()
    assert TRANSITIONS[SessionState.LEAVING] == {SessionState.CLOSED}


def test_legal_moves_are_logged() -> None:
    machine = StateMachine(structlog.get_logger("test"))
    with structlog.testing.capture_logs() as logs:
        machine.state = SessionState.IDLE
        machine.state = SessionState.PLAYING
        machine.state = SessionState.PAUSED
        machine.state = SessionState.PLAYING
        machine.state = SessionState.LEAVING
        machine.state = SessionState.CLOSED
    moves = [(entry["old"], entry["new"]) for entry in logs if entry["event"] == "session.state"]
    assert moves == [
        ("connecting", "idle"),
        ("idle", "playing"),
        ("playing", "paused"),
        ("paused", "playing"),
        ("playing", "leaving"),
        ("leaving", "closed"),
    ]


@pytest.mark.parametrize(
    ("start_path", "illegal"),
    [
        ((), SessionState.PAUSED),  # connecting -> paused
        ((SessionState.IDLE,), SessionState.PAUSED),  # nothing to pause
        ((SessionState.LEAVING,), SessionState.PLAYING),  # no way back from leaving
        ((SessionState.LEAVING, SessionState.CLOSED), SessionState.CONNECTING),
    ],
)
def test_illegal_moves_raise_and_keep_the_state(
    start_path: tuple[SessionState, ...], illegal: SessionState
) -> None:
    machine = StateMachine(structlog.get_logger("test"))
    for state in start_path:
        machine.state = state
    before = machine.state
    assert not machine.can_move_to(illegal)
    with pytest.raises(InvalidTransition):
        machine.state = illegal
    assert machine.state is before


def test_queue_is_fifo_with_play_next_in_front() -> None:
    queue = TrackQueue(limit=10)
    assert queue.add(item(1)) == 1
    assert queue.add(item(2)) == 2
    assert queue.add(item(3), front=True) == 1
    assert [t.job_id for t in queue.snapshot()] == ["3", "1", "2"]
    assert queue.peek() == item(3)
    assert queue.pop() == item(3)
    assert queue.clear() == 2
    assert queue.pop() is None


def test_queue_is_bounded() -> None:
    queue = TrackQueue(limit=2, tracks=[item(1), item(2)])
    with pytest.raises(QueueFull) as raised:
        queue.add(item(3), front=True)
    assert raised.value.limit == 2
    assert len(queue) == 2


@given(st.lists(st.tuples(st.integers(0, 99), st.booleans()), max_size=40))
def test_queue_never_exceeds_its_limit(ops: list[tuple[int, bool]]) -> None:
    queue = TrackQueue(limit=5)
    for n, front in ops:
        try:
            queue.add(item(n), front=front)
        except QueueFull:
            assert len(queue) == 5
        assert len(queue) <= 5


def test_snapshot_round_trips_through_json() -> None:
    snapshot = GuildSnapshot(
        guild_id="10",
        state=SessionState.PAUSED,
        voice_channel_id="11",
        text_channel_id="12",
        now_playing=NowPlaying(track=item(1), position_s=12.5, paused=True),
        queue=(item(2), item(3)),
    )
    restored = GuildSnapshot.model_validate_json(snapshot.model_dump_json())
    assert restored == snapshot
    assert restored.now_playing is not None
    assert restored.now_playing.track.label == "track 1"
