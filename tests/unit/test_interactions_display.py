"""Pure formatting of stored tracks, and the permission bits read from the payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from interactions.commands import display
from interactions.commands.display import now_playing_view
from interactions.commands.status import queue_view
from interactions.permissions import is_manager
from shared.state import GuildState, NowPlaying, QueuedTrack
from tests.fixtures_interactions import assert_valid_callback

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def track(n: int, duration_s: float | None = 60.0) -> QueuedTrack:
    return QueuedTrack(
        entry_id=f"e{n}", query=f"q{n}", title=f"T{n}", duration_s=duration_s, requester_id="1"
    )


def test_progress_bar() -> None:
    assert display.progress_bar(0, 100) == "🔘" + "─" * 13 + " 0:00 / 1:40"
    assert display.progress_bar(50, 100) == "▬" * 7 + "🔘" + "─" * 6 + " 0:50 / 1:40"
    assert display.progress_bar(100, 100) == "▬" * 13 + "🔘" + " 1:40 / 1:40"
    assert display.progress_bar(5, None) == "🔴 live · 0:05"


def test_pages() -> None:
    assert [display.page_count(n) for n in (0, 1, 10, 11, 500)] == [1, 1, 1, 2, 50]
    assert display.clamp_page(0, 25) == 1 and display.clamp_page(9, 25) == 3


def test_links_only_for_plain_web_urls() -> None:
    assert display.web_url("https://a.example/x") == "https://a.example/x"
    for url in ("javascript:alert(1)", "ftp://x", "https://a.example/x y", "https://a/(x)", ""):
        assert display.web_url(url) is None


def test_total_length_notes_unknown_tracks() -> None:
    assert display.total_length([track(1), track(2, None), track(3)]) == (
        "2:00 (+1 of unknown length)"
    )
    assert display.total_length([]) == "0:00"


def test_views_are_valid_discord_callbacks() -> None:
    long_title = track(1).model_copy(update={"title": "x" * 512})
    state = GuildState(
        guild_id="2",
        now_playing=NowPlaying(
            track=long_title, position_s=10, position_updated_at=NOW - timedelta(seconds=5)
        ),
        queue=tuple(long_title.model_copy(update={"entry_id": f"e{n}"}) for n in range(25)),
    )
    embed, rows = queue_view(state, 2, NOW)
    assert "`11.`" in embed["description"] and len(embed["description"]) <= 4096
    assert_valid_callback({"type": 4, "data": {"embeds": [embed], "components": rows}})
    assert_valid_callback({"type": 7, "data": {"embeds": [embed], "components": rows}})
    assert state.now_playing is not None
    embed, rows = now_playing_view(state.now_playing, 25, NOW)
    # Playing: 10 s saved 5 s ago is 0:15 now
    assert embed["description"].endswith(" 0:15 / 1:00") and len(embed["title"]) <= 256
    assert_valid_callback({"type": 4, "data": {"embeds": [embed], "components": rows}})


def test_manager_bits() -> None:
    assert is_manager(str(1 << 5)) and is_manager(str(1 << 3))
    assert not is_manager("2248473465835073") and not is_manager("nonsense")
