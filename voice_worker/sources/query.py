"""Sort a user's query into a URL to vet or search words for yt-dlp's YouTube search (pure)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from voice_worker.sources.errors import InvalidQuery, unsafe
from voice_worker.sources.ssrf import MAX_URL_LENGTH

SEARCH_PREFIX: Final = "ytsearch1:"

_URL_LIKE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")
# Schemes written without "//" that still mean "open this" to some library: refuse, don't search.
_BARE_SCHEMES: Final = frozenset(
    {"data", "file", "javascript", "about", "blob", "view-source", "mailto", "jar", "netdoc"}
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class QueryKind(enum.StrEnum):
    """How a query will be resolved."""

    URL = "url"
    SEARCH = "search"


@dataclass(frozen=True)
class Query:
    """A classified query: ``text`` is the URL, or the cleaned search words."""

    kind: QueryKind
    text: str

    @property
    def ytdlp_target(self) -> str:
        """What yt-dlp is asked to extract for a search (the URL is vetted separately)."""
        return f"{SEARCH_PREFIX}{self.text}" if self.kind is QueryKind.SEARCH else self.text


def classify_query(raw: str, *, max_search_length: int) -> Query:
    """A URL when it has a scheme, else search words (a leading "-" is just text)."""
    text = raw.strip()
    if not text:
        raise InvalidQuery("empty")
    if _URL_LIKE.match(text) or text.startswith("//"):
        if len(text) > MAX_URL_LENGTH:
            raise InvalidQuery("too_long", "That link is too long.")
        return Query(QueryKind.URL, text)
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in _BARE_SCHEMES:
        raise unsafe("scheme")
    words = " ".join(_CONTROL.sub(" ", text).split())
    if len(words) > max_search_length:
        raise InvalidQuery(
            "too_long", f"Please keep searches under {max_search_length} characters."
        )
    return Query(QueryKind.SEARCH, words)
