"""/search on the worker: look the words up and answer with a select menu of the top results.

The menu's option values are the results' page URLs; choosing one is a component interaction
that the front door turns into a /play of that URL, checked again there as any user link (a
client can send any value it likes). Nothing is kept between the two: the message is the state.
"""

from __future__ import annotations

from typing import Any

from interactions.commands import display
from interactions.commands.search import COMPONENT_PREFIX
from shared.jobs import SearchJob
from voice_worker.player_commands import clock
from voice_worker.reporting import Reply
from voice_worker.sources.errors import SourceError, SourceUnavailable
from voice_worker.sources.models import TrackRef
from voice_worker.tracks import TrackSource

RESULTS = 5
# Discord's limits for a string select option.
MAX_LABEL = 100
MAX_VALUE = 100
MAX_DESCRIPTION = 100
SEARCH_FAILED = "Search isn't working right now. Please try again later."
# Reasons whose own message already fits a search ("took too long", "refusing our requests").
_OWN_WORDING = frozenset({"timeout", "socket_timeout", "blocked", "link", "too_long", "empty"})


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _description(ref: TrackRef) -> str:
    length = "live" if ref.is_live else clock(ref.duration_s) if ref.duration_s else "?"
    return _cut(f"{length} · {ref.uploader}" if ref.uploader else length, MAX_DESCRIPTION)


def menu_options(results: tuple[TrackRef, ...]) -> list[dict[str, Any]]:
    """One option per usable result: title and length shown, the page URL as the value.

    A URL longer than Discord's 100-character value limit can't be offered (cutting it would
    play something else), nor can the same URL twice (values must be unique).
    """
    options: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ref in results:
        url = ref.webpage_url
        if len(url) > MAX_VALUE or url in seen:
            continue
        seen.add(url)
        options.append(
            {
                "label": _cut(ref.title or url, MAX_LABEL),
                "value": url,
                "description": _description(ref),
            }
        )
    return options


def search_reply(job: SearchJob, results: tuple[TrackRef, ...]) -> Reply:
    """The message the deferred (ephemeral) /search reply becomes."""
    options = menu_options(results)
    words = display.escape(_cut(job.query, 80))
    if not options:
        return Reply(f"I found nothing to play for “{words}”.", ephemeral=True)
    select = {
        "type": 3,
        "custom_id": f"{COMPONENT_PREFIX}{job.job_id}",
        "placeholder": "Pick a track to queue",
        "min_values": 1,
        "max_values": 1,
        "options": options,
    }
    text = f"Top {len(options)} for “{words}”: pick one to queue it."
    return Reply(text, components=({"type": 1, "components": [select]},))


async def run_search(sources: TrackSource, job: SearchJob) -> Reply:
    """Search (yt-dlp off the loop, bounded by the resolver's timeout) and build the menu.

    A failure is answered (never retried: the user can search again); its wording is about
    the search, not "that track", except for a timeout or a source refusing us.
    """
    try:
        results = await sources.search(job.query, limit=RESULTS)
    except SourceError as exc:
        if exc.reason in _OWN_WORDING:
            raise
        raise SourceUnavailable(exc.reason, SEARCH_FAILED) from None
    return search_reply(job, results)
