"""Pure formatting of stored tracks for Discord: links, durations, the progress bar, pages.

Kept apart from the command modules so the layouts are tested without a store or a request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from interactions.options import format_duration
from interactions.responses import truncate

if TYPE_CHECKING:
    from shared.state import QueuedTrack

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
