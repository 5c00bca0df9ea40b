"""yt-dlp's errors become ours; yt-dlp's options come from the operator only."""

from __future__ import annotations

import pytest
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

from voice_worker.sources.config import ResolverConfig
from voice_worker.sources.errors import (
    ResolveTimeout,
    SourceError,
    SourceUnavailable,
    UnsafeUrl,
    UnsupportedLink,
    unsafe,
)
from voice_worker.sources.logsafe import redact_urls
from voice_worker.sources.ytdl import build_params, has_dedicated_extractor, map_ytdlp_error


def wrapped(exc: BaseException) -> DownloadError:
    """What YoutubeDL.extract_info raises: a DownloadError carrying the original in exc_info."""
    return DownloadError(f"ERROR: {exc}", (type(exc), exc, None))


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (wrapped(UnsupportedError("https://example.com/x")), UnsupportedLink, "unsupported"),
        (wrapped(GeoRestrictedError("not in your country")), SourceUnavailable, "geo_restricted"),
        (
            wrapped(ExtractorError("Video unavailable. This video has been removed")),
            SourceUnavailable,
            "not_found",
        ),
        (wrapped(ExtractorError("Private video. Sign in")), SourceUnavailable, "restricted"),
        (
            wrapped(ExtractorError("Sign in to confirm you're not a bot")),
            SourceUnavailable,
            "blocked",
        ),
        (
            DownloadError("ERROR: Unable to download webpage: HTTP Error 404: Not Found"),
            SourceUnavailable,
            "not_found",
        ),
        (
            DownloadError("ERROR: Unable to download webpage: The read operation timed out"),
            ResolveTimeout,
            "socket_timeout",
        ),
        (DownloadError("ERROR: Requested format is not available"), UnsupportedLink, "no_audio"),
        (DownloadError("ERROR: something new and strange"), SourceUnavailable, "failed"),
        (wrapped(unsafe("metadata_address")), UnsafeUrl, "metadata_address"),
    ],
)
def test_errors_are_mapped(exc: BaseException, kind: type[SourceError], reason: str) -> None:
    mapped = map_ytdlp_error(exc)
    assert type(mapped) is kind
    assert mapped.reason == reason
    assert "http" not in mapped.user_message  # never echo yt-dlp's text (URLs) to users


def test_params_are_fixed_plus_operator_options() -> None:
    config = ResolverConfig(
        max_playlist_items=7,
        cookies_file="/run/secrets/cookies.txt",
        proxy="socks5://proxy:1080",
        extractor_args={"youtube": {"player_client": ["web", "ios"]}},
        source_address="0.0.0.0",
    )
    params = build_params(config, flat=True)
    assert params["format"] == "bestaudio/best"
    assert params["playlistend"] == 7 and params["extract_flat"] == "in_playlist"
    assert params["noplaylist"] is False and params["quiet"] is True
    assert params["cookiefile"] == "/run/secrets/cookies.txt"
    assert params["proxy"] == "socks5://proxy:1080"
    assert params["extractor_args"] == {"youtube": {"player_client": ["web", "ios"]}}
    assert params["enable_file_urls"] is False and params["cachedir"] is False
    assert build_params(config, flat=False, single=True)["noplaylist"] is True


def test_dedicated_extractors_are_recognised() -> None:
    assert has_dedicated_extractor("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert has_dedicated_extractor("https://soundcloud.com/artist/track")
    assert not has_dedicated_extractor("https://example.com/song.mp3")


def test_urls_in_log_text_lose_path_and_query() -> None:
    text = "[generic] Downloading https://u:p@rr1.googlevideo.com/videoplayback?sig=SECRET now"
    assert redact_urls(text) == "[generic] Downloading https://rr1.googlevideo.com/… now"
