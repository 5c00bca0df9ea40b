"""Pure formatting of stored tracks for Discord: links, durations, the progress bar, pages,
and the now-playing card.

Kept apart from the command modules so the layouts are tested without a store or a request.
The now-playing card is rendered here for both /nowplaying (front door) and the message the
voice worker posts and edits per guild, so the two always look the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from interactions.options import format_duration
from interactions.responses import action_row, button, truncate

if TYPE_CHECKING:
    from shared.state import NowPlaying, QueuedTrack

Embed = dict[str, Any]
Rows = list[dict[str, Any]]

# Discord blurple; purely cosmetic.
COLOUR = 0x5865F2
PAGE_SIZE = 10
BAR_WIDTH = 14
_TITLE_IN_LIST = 90
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()])")


def escape(text: str) -> str:
    """Text shown literally in markdown (a title like `*NSYNC` stays as it is)."""
    return _MARKDOWN.sub(r"\\\1", text)


def web_url(url: str) -> str | None:
    """The URL when it is a plain http(s) link Discord will render, else None."""
    if url.startswith(("https://", "http://")) and not any(ch in url for ch in " <>()"):
        return url
    return None


def track_title(track: QueuedTrack) -> str:
    """The title, falling back to what was asked for (a search not resolved yet)."""
    return track.title or track.query


def track_link(track: QueuedTrack, limit: int = _TITLE_IN_LIST) -> str:
    """`[title](url)`, or the escaped title when there is no usable link."""
    title = escape(truncate(track_title(track), limit))
    url = web_url(track.webpage_url)
    return f"[{title}]({url})" if url else title


def track_length(track: QueuedTrack) -> str:
    """The track's length, `live` for a stream, `?` when unknown."""
    if getattr(track, "is_live", False):
        return "live"
    return format_duration(track.duration_s) if track.duration_s is not None else "?"


def total_length(tracks: Sequence[QueuedTrack]) -> str:
    """The summed length, noting tracks of unknown length."""
    known = [t.duration_s for t in tracks if t.duration_s is not None]
    unknown = len(tracks) - len(known)
    text = format_duration(sum(known))
    return f"{text} (+{unknown} of unknown length)" if unknown else text


def page_count(total: int) -> int:
    """Pages of PAGE_SIZE (at least one, for the empty queue)."""
    return max(1, math.ceil(total / PAGE_SIZE))


def clamp_page(page: int, total: int) -> int:
    """A 1-based page that exists."""
    return min(max(page, 1), page_count(total))


def progress_bar(position_s: float, duration_s: float | None) -> str:
    """`▬▬▬🔘───── 1:23 / 3:45`, or the elapsed time of a stream."""
    if duration_s is None or duration_s <= 0:
        return f"🔴 live · {format_duration(position_s)}"
    fraction = min(max(position_s / duration_s, 0.0), 1.0)
    marker = min(int(fraction * BAR_WIDTH), BAR_WIDTH - 1)
    bar = "▬" * marker + "🔘" + "─" * (BAR_WIDTH - marker - 1)
    return f"{bar} {format_duration(position_s)} / {format_duration(duration_s)}"


# What the Loop button switches to, from each mode (its custom_id carries the target mode, so
# the worker needs no read-modify-write).
NEXT_LOOP = {"off": "track", "track": "queue", "queue": "off"}
LOOP_LABELS = {"off": "Loop: off", "track": "Loop: track", "queue": "Loop: queue"}
QUEUE_FINISHED = "Queue finished"


def player_buttons(*, paused: bool, loop: str) -> Rows:
    """Pause/Resume, Skip, Stop, Loop (cycles off → track → queue) and Shuffle."""
    toggle = (
        button("player:resume", "Resume", style=1)
        if paused
        else button("player:pause", "Pause", style=1)
    )
    mode = loop if loop in NEXT_LOOP else "off"
    return [
        action_row(
            toggle,
            button("player:skip", "Skip"),
            button("player:stop", "Stop", style=4),
            button(f"player:loop:{NEXT_LOOP[mode]}", LOOP_LABELS[mode]),
            button("player:shuffle", "Shuffle"),
        )
    ]


def now_playing_view(
    playing: NowPlaying, upcoming: int, now: datetime, *, loop: str = "off"
) -> tuple[Embed, Rows]:
    """The now-playing embed (/nowplaying and the worker's card) and its player buttons."""
    track = playing.track
    state = "⏸ Paused · " if playing.paused else ""
    embed: Embed = {
        "author": {"name": "Now playing"},
        "title": truncate(track_title(track), 256),
        "description": state + progress_bar(playing.position_at(now), track.duration_s),
        "color": COLOUR,
        "fields": [
            {"name": "Requested by", "value": f"<@{track.requester_id}>", "inline": True},
            {"name": "Up next", "value": f"{upcoming} in the queue", "inline": True},
        ],
    }
    if url := web_url(track.webpage_url):
        embed["url"] = url
    if thumbnail := web_url(track.thumbnail):
        embed["thumbnail"] = {"url": thumbnail}
    return embed, player_buttons(paused=playing.paused, loop=loop)


def finished_view(last: QueuedTrack | None = None, *, title: str = QUEUE_FINISHED) -> Embed:
    """The card once nothing plays any more (shown without buttons)."""
    embed: Embed = {"title": title, "color": COLOUR, "description": "Add more with /play."}
    if last is not None:
        embed["description"] = f"Last played: {track_link(last)}\nAdd more with /play."
    return embed
