"""A guild's max track length (/settings set max_track_length), applied where tracks come in.

/play (and a /search choice, which is a /play of the chosen link), a playlist load and
autoplay all go through here. A track of unknown length (a live stream, a source that does
not say) is let through: its length can't be checked before it plays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from voice_worker.player_commands import clock
from voice_worker.sources.errors import SourceError
from voice_worker.sources.models import TrackRef

T = TypeVar("T")


def too_long(ref: TrackRef, max_length_s: int | None) -> bool:
    """Whether the track is known to be longer than the guild allows."""
    return max_length_s is not None and ref.duration_s is not None and ref.duration_s > max_length_s


def split_fitting(
    items: Sequence[T], refs: Sequence[TrackRef], max_length_s: int | None
) -> tuple[list[T], int]:
    """The items whose track fits, and how many were left out for being too long."""
    fitting = [
        item for item, ref in zip(items, refs, strict=True) if not too_long(ref, max_length_s)
    ]
    return fitting, len(items) - len(fitting)


class TrackTooLong(SourceError):
    """Longer than the guild's max track length: refused like a track that can't be played
    (a /play is answered, a queued one is skipped with a notice)."""


def refusal(ref: TrackRef, max_length_s: int) -> TrackTooLong:
    """The answer for a track longer than the guild allows."""
    length = clock(ref.duration_s or 0)
    return TrackTooLong(
        "track_too_long",
        f"That track is {length} long: this server plays tracks up to {clock(max_length_s)}.",
    )


def left_out_text(count: int, max_length_s: int | None) -> str:
    """The note on a playlist whose tracks were partly too long ("" when none were)."""
    if count == 0 or max_length_s is None:
        return ""
    which = "1 track was" if count == 1 else f"{count} tracks were"
    return f" {which} longer than this server's max track length ({clock(max_length_s)})."
