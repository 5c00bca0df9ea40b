"""The state models' pure helpers: position, queue bound, job marks, save preparation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.state import GuildSettings, GuildState, NowPlaying, PlaybackPosition, QueueFull
from shared.state.base import prepare_save
from shared.state.models import RECENT_JOBS, Playlist, QueuedTrack

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def track(n: int, duration_s: float | None = 200.0) -> QueuedTrack:
    return QueuedTrack(entry_id=f"e{n}", query=f"q{n}", requester_id="1", duration_s=duration_s)


def test_position_extrapolates_while_playing_and_stops_at_the_end_or_when_paused() -> None:
    playing = NowPlaying(track=track(0), position_s=10, position_updated_at=T0)
    assert playing.position_at(T0 + timedelta(seconds=5)) == 15
    assert playing.position_at(T0 - timedelta(seconds=5)) == 10  # a clock behind: no rewind
    assert playing.position_at(T0 + timedelta(hours=1)) == 200
    assert playing.model_copy(update={"paused": True}).position_at(T0 + timedelta(seconds=5)) == 10
    live = NowPlaying(track=track(1, duration_s=None), position_s=0, position_updated_at=T0)
    assert live.position_at(T0 + timedelta(hours=1)) == 3600


def test_a_position_record_applies_only_to_its_track_and_only_when_newer() -> None:
    state = GuildState(
        guild_id="1", now_playing=NowPlaying(track=track(0), position_s=5, position_updated_at=T0)
    )

    def position(entry_id: str, offset_s: float) -> PlaybackPosition:
        return PlaybackPosition(
            guild_id="1",
            entry_id=entry_id,
            position_s=42,
            paused=True,
            updated_at=T0 + timedelta(seconds=offset_s),
            lease_token=1,
        )

    moved = state.with_position(position("e0", 3))
    assert moved.now_playing is not None
    assert (moved.now_playing.position_s, moved.now_playing.paused) == (42, True)
    assert state.with_position(position("e9", 3)) == state
    assert state.with_position(position("e0", -3)) == state
    assert GuildState(guild_id="1").with_position(position("e0", 3)) == GuildState(guild_id="1")


def test_enqueue_respects_the_lower_of_the_two_bounds() -> None:
    state = GuildState(guild_id="1", queue=(track(1),))
    assert [t.entry_id for t in state.enqueue((track(2),), limit=5).queue] == ["e1", "e2"]
    assert [t.entry_id for t in state.enqueue((track(2),), limit=5, front=True).queue] == [
        "e2",
        "e1",
    ]
    with pytest.raises(QueueFull) as full:
        state.enqueue((track(2), track(3)), limit=2)
    assert full.value.limit == 2
    strict = state.model_copy(update={"settings": GuildSettings(max_queue_length=1)})
    with pytest.raises(QueueFull):
        strict.enqueue((track(2),), limit=500)


def test_recorded_jobs_are_idempotent_and_bounded() -> None:
    state = GuildState(guild_id="1")
    assert state.record_job("1").record_job("1").applied_job_ids == ("1",)
    for i in range(RECENT_JOBS + 10):
        state = state.record_job(str(i))
    assert len(state.applied_job_ids) == RECENT_JOBS
    assert state.applied(str(RECENT_JOBS + 9)) and not state.applied("0")
    revalidated = GuildState.model_validate(
        {"guild_id": "1", "applied_job_ids": [str(i) for i in range(RECENT_JOBS * 2)]}
    )
    assert len(revalidated.applied_job_ids) == RECENT_JOBS


def test_has_work_means_something_to_play_or_a_reason_to_stay() -> None:
    assert not GuildState(guild_id="1").has_work
    assert GuildState(guild_id="1", queue=(track(1),)).has_work
    assert GuildState(guild_id="1", settings=GuildSettings(stay_24_7=True)).has_work


def test_prepare_save_stamps_the_next_version_and_trims_history() -> None:
    state = GuildState(guild_id="1", history=tuple(track(i) for i in range(5)), version=3)
    saved = prepare_save(
        state, expected_version=3, now=T0.timestamp(), max_queue_length=10, history_length=2
    )
    assert saved.version == 4 and saved.updated_at == T0
    assert [t.entry_id for t in saved.history] == ["e3", "e4"]
    none_kept = prepare_save(
        state, expected_version=3, now=T0.timestamp(), max_queue_length=10, history_length=0
    )
    assert none_kept.history == ()


def test_playlist_names_match_case_insensitively() -> None:
    assert Playlist(guild_id="1", name="  Road Trip ", created_by="2").key == "road trip"
    with pytest.raises(ValueError):
        Playlist(guild_id="1", name="   ", created_by="2")


def test_a_state_saved_by_newer_code_still_loads() -> None:
    state = GuildState(guild_id="1", queue=(track(1),))
    stored = state.model_dump(mode="json")
    stored["a_field_from_the_future"] = {"x": 1}
    stored["queue"][0]["lyrics_url"] = "https://example.com"
    assert GuildState.model_validate(stored) == state
