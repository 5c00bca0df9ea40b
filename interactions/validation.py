"""Checks on user-typed options before anything is enqueued.

Discord's client enforces the option's max_length, but a stale command definition or another
client may not, and the text goes on to yt-dlp: the front door checks again. Messages here are
shown to the user as they are.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
# "scheme:" at the very start, not followed by a space ("Mozart: Requiem" is a search).
_LOOKS_LIKE_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]{0,31}):(?!\s)")
_WHITESPACE = re.compile(r"\s+")


class InvalidOption(ValueError):
    """An option the user can fix; the message is safe to show them."""


@dataclass(frozen=True)
class Query:
    """A cleaned play query: free text to search for, or an http(s) URL."""

    text: str
    is_url: bool


def clean_text(raw: str) -> str:
    """Drop control and format characters, fold whitespace runs to one space, trim."""
    if raw.isascii() and raw.isprintable():
        return _WHITESPACE.sub(" ", raw).strip()  # the common case: nothing to drop
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in raw
        if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    )
    return _WHITESPACE.sub(" ", kept).strip()


def validate_query(raw: object, *, max_length: int, allow_private: bool = False) -> Query:
    """Return the cleaned query or raise InvalidOption with a message for the user."""
    if not isinstance(raw, str):
        raise InvalidOption("Tell me what to play: a song name or a link.")
    if len(raw) > max_length * 4:
        # Far over the limit: refuse before spending time on cleaning.
        raise InvalidOption(f"That's too long: keep it under {max_length} characters.")
    text = clean_text(raw)
    if not text:
        raise InvalidOption("Tell me what to play: a song name or a link.")
    if len(text) > max_length:
        raise InvalidOption(f"That's too long: keep it under {max_length} characters.")
    match = _LOOKS_LIKE_URL.match(text)
    if match is None:
        return Query(text=text, is_url=False)
    if match.group(1).lower() not in ALLOWED_SCHEMES:
        raise InvalidOption("I can only play web links (http or https), or a song name.")
    if " " in text:
        raise InvalidOption("That link has spaces in it: paste just the link.")
    _check_url(text, allow_private=allow_private)
    return Query(text=text, is_url=True)


def _check_url(url: str, *, allow_private: bool) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidOption("That link doesn't look right.") from None
    if not host:
        raise InvalidOption("That link doesn't look right.")
    if allow_private:
        return
    # Defence in depth against links to the bot's own network; the worker checks resolved IPs.
    if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
        raise InvalidOption("I can't play links to private addresses.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise InvalidOption("I can't play links to private addresses.")
