"""Exceptions of source resolution: each carries a short message safe to show a user."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

# The worker's user-facing base: a plain module (no discord.py), so sources stay light.
from voice_worker.errors import UserFacingError

_E = TypeVar("_E", bound=BaseException)


class SourceError(UserFacingError):
    """Base class: ``user_message`` may be shown in Discord; ``reason`` is a stable log code."""

    default_message = "That track couldn't be played."


class UnsafeUrl(SourceError):
    """The URL (or a redirect or stream URL behind it) points somewhere the bot must not go."""

    default_message = "That link can't be played."


class SourceUnavailable(SourceError):
    """The source is gone, private, blocked or unreachable: retrying now won't help."""

    default_message = "That track is unavailable (removed, private or unreachable)."


class UnsupportedLink(SourceError):
    """No extractor understands the link, or it holds no playable audio."""

    default_message = "That link isn't supported: try a YouTube, SoundCloud or direct audio link."


class ResolveTimeout(SourceError):
    """Resolution took longer than the configured budget."""

    default_message = "Looking up that track took too long. Please try again."


class InvalidQuery(SourceError):
    """The query is empty or too long to be a search."""

    default_message = "Please give a link or some search words (up to 200 characters)."


# User-facing messages of UnsafeUrl by reason, kept together so wording stays consistent.
UNSAFE_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "scheme": "Only http and https links can be played.",
        "userinfo": "Links with a user name or password can't be played.",
        "malformed": "That link doesn't look valid.",
        "private_address": "That link points to a private network address and can't be played.",
        "reserved_address": "That link points to a reserved network address and can't be played.",
        "metadata_address": "That link points to a cloud metadata address and can't be played.",
        "too_many_redirects": "That link redirects too many times.",
        "unsafe_redirect": "That link redirects somewhere that can't be played.",
    }
)


def unsafe(reason: str) -> UnsafeUrl:
    """Build an :class:`UnsafeUrl` with the standard message for ``reason``."""
    return UnsafeUrl(reason, UNSAFE_MESSAGES.get(reason))


def find_in_chain(exc: BaseException, kind: type[_E]) -> _E | None:
    """The first ``kind`` in an exception's wrapped/cause/context chain (libraries wrap ours)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = _wrapped(current)
    return None


def _wrapped(exc: BaseException) -> BaseException | None:
    # yt-dlp's DownloadError keeps the original exception in ``exc_info``, not in __cause__.
    exc_info = getattr(exc, "exc_info", None)
    if isinstance(exc_info, tuple) and len(exc_info) > 1 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return exc.__cause__ or exc.__context__
