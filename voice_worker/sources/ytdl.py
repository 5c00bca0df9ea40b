"""yt-dlp behind a guard: options from the operator only, every request it makes checked.

Everything here is synchronous and runs in the resolver's worker threads, never on the event
loop. ``GuardedYoutubeDL`` checks the host of every request an extractor makes (and the final URL
after yt-dlp's own redirects) with the SSRF guard. The redirect check comes after the fact, the
request having been sent: that is why the resolver follows a generic link's redirects itself,
checked hop by hop, before yt-dlp sees it.
"""

from __future__ import annotations

import re
from typing import Any, cast

import structlog
import yt_dlp
from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.networking.exceptions import HTTPError as YtHttpError
from yt_dlp.utils import GeoRestrictedError, UnsupportedError

from voice_worker.sources.config import ResolverConfig
from voice_worker.sources.errors import (
    ResolveTimeout,
    SourceError,
    SourceUnavailable,
    UnsupportedLink,
    find_in_chain,
)
from voice_worker.sources.info import RawInfo
from voice_worker.sources.logsafe import redact_urls, url_host
from voice_worker.sources.ssrf import SyncResolve, UrlPolicy, ensure_safe_request_url_sync

log = structlog.get_logger(__name__)

AUDIO_FORMAT = "bestaudio/best"

# Message fragments yt-dlp (and the sites) use, mapped to our reasons: first match wins.
_MESSAGE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"sign in to confirm you.re not a bot|http error 429|too many requests", "blocked"),
        (r"timed out", "timeout"),
        (r"private video|members.only|sign in to confirm your age|age.restricted", "restricted"),
        (r"requested format is not available|no video formats|no audio", "no_audio"),
        (
            r"http error 40[34]|http error 410|video unavailable|not available|has been removed"
            r"|does not exist|not found|no longer available|terminated",
            "not_found",
        ),
        (r"unable to download|connection refused|name or service|failed to resolve", "unreachable"),
    )
)


class _StructlogAdapter:
    """yt-dlp's ``logger`` interface, redacting URLs (they carry signed tokens)."""

    def debug(self, msg: str) -> None:
        # yt-dlp sends both debug and (when quiet) screen output here.
        log.debug("ytdlp.debug", message=redact_urls(msg))

    def info(self, msg: str) -> None:
        log.debug("ytdlp.info", message=redact_urls(msg))

    def warning(self, msg: str) -> None:
        log.warning("ytdlp.warning", message=redact_urls(msg))

    def error(self, msg: str) -> None:
        # The error is raised too and mapped by the resolver; this keeps yt-dlp's wording.
        log.info("ytdlp.error", message=redact_urls(msg))


class GuardedYoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]  # yt-dlp ships no type hints
    """A ``YoutubeDL`` whose every HTTP request goes through the SSRF guard first."""

    def __init__(
        self, params: dict[str, Any], *, policy: UrlPolicy, resolve: SyncResolve | None = None
    ) -> None:
        super().__init__(params)
        self._guard_policy = policy
        self._guard_resolve = resolve

    def urlopen(self, req: Any) -> Any:
        """Check the request's URL, send it, then check where redirects ended up."""
        url = req if isinstance(req, str) else getattr(req, "url", None) or req.full_url
        ensure_safe_request_url_sync(str(url), self._guard_policy, self._guard_resolve)
        response = super().urlopen(req)
        final_url = getattr(response, "url", None)
        if isinstance(final_url, str) and final_url != url:
            try:
                ensure_safe_request_url_sync(final_url, self._guard_policy, self._guard_resolve)
            except SourceError:
                response.close()
                log.warning("source.ytdlp.unsafe_redirect", host=url_host(final_url))
                raise
        return response


def build_params(config: ResolverConfig, *, flat: bool, single: bool = False) -> dict[str, Any]:
    """yt-dlp options: fixed safety options plus the operator's. User input never gets here."""
    params: dict[str, Any] = {
        "format": AUDIO_FORMAT,
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "skip_download": True,
        "noplaylist": single,
        "playlistend": config.max_playlist_items,
        "lazy_playlist": True,
        "extract_flat": "in_playlist" if flat else False,
        "socket_timeout": config.effective_socket_timeout_s,
        "cachedir": config.yt_dlp_cache_dir or False,
        "allowed_extractors": list(config.allowed_extractors),
        "ignoreerrors": False,
        "enable_file_urls": False,
        "logger": _StructlogAdapter(),
    }
    params.update(config.yt_dlp_operator_params())
    return params


def extract_info(
    target: str,
    params: dict[str, Any],
    *,
    policy: UrlPolicy,
    resolve: SyncResolve | None = None,
) -> RawInfo:
    """Run yt-dlp's extraction (blocking: call it in a worker thread) and map its errors."""
    try:
        with GuardedYoutubeDL(params, policy=policy, resolve=resolve) as ydl:
            info = ydl.extract_info(target, download=False)
            return cast(RawInfo, ydl.sanitize_info(info))
    except SourceError:
        raise
    except yt_dlp.utils.YoutubeDLError as exc:
        raise map_ytdlp_error(exc) from None


def map_ytdlp_error(exc: BaseException) -> SourceError:
    """Translate a yt-dlp exception into one of ours with a user-facing message."""
    ours = find_in_chain(exc, SourceError)
    if ours is not None:
        return ours
    if find_in_chain(exc, UnsupportedError) is not None:
        return UnsupportedLink("unsupported")
    if find_in_chain(exc, GeoRestrictedError) is not None:
        return SourceUnavailable("geo_restricted", "That track isn't available in our region.")
    http_error = find_in_chain(exc, YtHttpError)
    reason = _reason_from_status(http_error.status) if http_error is not None else None
    if reason is None:
        message = str(exc)
        reason = next((r for pattern, r in _MESSAGE_RULES if pattern.search(message)), "failed")
    return _error_for_reason(reason)


def has_dedicated_extractor(url: str) -> bool:
    """True when an extractor other than the generic one claims ``url`` (blocking, ~10 ms)."""
    return any(ie.ie_key() != "Generic" and ie.suitable(url) for ie in gen_extractor_classes())


def _reason_from_status(status: int) -> str | None:
    if status in (404, 410):
        return "not_found"
    if status in (403, 429):
        return "blocked"
    return None


def _error_for_reason(reason: str) -> SourceError:
    if reason == "timeout":
        return ResolveTimeout("socket_timeout")
    if reason == "no_audio":
        return UnsupportedLink("no_audio", "No playable audio was found at that link.")
    messages = {
        "blocked": "The source is refusing our requests right now. Please try again later.",
        "restricted": "That track is private or age-restricted.",
        "unreachable": "That link's website couldn't be reached.",
    }
    return SourceUnavailable(reason, messages.get(reason))
