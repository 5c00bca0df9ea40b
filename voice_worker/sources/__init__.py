"""Source resolution for the voice worker: SSRF guard, yt-dlp resolver, stream cache, ffmpeg argv.

Import the public API from here; the modules behind it are one concern each.
"""

from __future__ import annotations

from voice_worker.sources.cache import StreamCache, TrackResolver
from voice_worker.sources.config import ResolverConfig
from voice_worker.sources.describe import describe, format_description
from voice_worker.sources.errors import (
    InvalidQuery,
    ResolveTimeout,
    SourceError,
    SourceUnavailable,
    UnsafeUrl,
    UnsupportedLink,
)
from voice_worker.sources.ffmpeg import PRESETS, AudioOptions, build_ffmpeg_argv, is_passthrough
from voice_worker.sources.models import Lookup, Track, TrackRef
from voice_worker.sources.resolver import Resolver
from voice_worker.sources.ssrf import CheckedUrl, UrlPolicy, ensure_safe_url, parse_url

__all__ = [
    "PRESETS",
    "AudioOptions",
    "CheckedUrl",
    "InvalidQuery",
    "Lookup",
    "ResolveTimeout",
    "Resolver",
    "ResolverConfig",
    "SourceError",
    "SourceUnavailable",
    "StreamCache",
    "Track",
    "TrackRef",
    "TrackResolver",
    "UnsafeUrl",
    "UnsupportedLink",
    "UrlPolicy",
    "build_ffmpeg_argv",
    "describe",
    "ensure_safe_url",
    "format_description",
    "is_passthrough",
    "parse_url",
]
