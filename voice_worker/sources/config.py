"""Operator configuration of source resolution, built by the worker's bootstrap from settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from voice_worker.sources.ssrf import UrlPolicy

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


@dataclass(frozen=True)
class ResolverConfig:
    """Knobs for yt-dlp, the SSRF guard and the time budget of one resolution.

    Threads running yt-dlp cannot be killed: when ``timeout_s`` passes, the caller gets
    :class:`ResolveTimeout` at once, but the thread runs on until yt-dlp's own socket timeout
    (``socket_timeout_s``, default ``timeout_s``) ends it. ``max_workers`` bounds how many such
    threads exist, so a burst of dead links can delay other lookups but never grow without bound.
    """

    timeout_s: float = 20.0
    max_playlist_items: int = 200
    allow_private_addresses: bool = False  # demo and tests only; metadata stays refused
    cookies_file: str | None = None
    proxy: str | None = None
    source_address: str | None = None
    extractor_args: Mapping[str, Mapping[str, Sequence[str]]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    allowed_extractors: Sequence[str] = ("default",)
    default_stream_ttl_s: float = 3600.0
    max_workers: int = 4
    socket_timeout_s: float | None = None
    max_redirects: int = 5
    max_query_length: int = 200
    preflight_stream_url: bool = True  # follow the stream URL's redirects ourselves, checked
    allow_generic_manifests: bool = False  # HLS/DASH from arbitrary sites: segments go unchecked
    probe_timeout_s: float = 10.0
    ffprobe_path: str = "ffprobe"
    user_agent: str = DEFAULT_USER_AGENT
    yt_dlp_cache_dir: str | None = None  # None disables yt-dlp's on-disk cache

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.probe_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_playlist_items < 1 or self.max_workers < 1 or self.max_query_length < 1:
            raise ValueError("max_playlist_items, max_workers and max_query_length must be >= 1")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must be >= 0")

    @property
    def url_policy(self) -> UrlPolicy:
        """The SSRF policy these settings imply."""
        return UrlPolicy(allow_private_addresses=self.allow_private_addresses)

    @property
    def effective_socket_timeout_s(self) -> float:
        """yt-dlp's socket timeout: bounded by the whole budget unless set explicitly."""
        return self.socket_timeout_s if self.socket_timeout_s is not None else self.timeout_s

    def yt_dlp_operator_params(self) -> dict[str, Any]:
        """The operator's yt-dlp options (never anything derived from user input)."""
        params: dict[str, Any] = {}
        if self.cookies_file:
            params["cookiefile"] = self.cookies_file
        if self.proxy:
            params["proxy"] = self.proxy
        if self.source_address:
            params["source_address"] = self.source_address
        if self.extractor_args:
            params["extractor_args"] = {
                ie: {key: list(values) for key, values in args.items()}
                for ie, args in self.extractor_args.items()
            }
        return params
