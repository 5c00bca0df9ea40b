"""Turn a query into tracks: vet the URL, run yt-dlp off the loop, vet the stream it returns.

One :class:`Resolver` per worker. yt-dlp runs in a bounded thread pool (injectable); the whole
resolution of one query is bounded by ``ResolverConfig.timeout_s``. A timed-out thread can't be
killed: it is counted in :attr:`Resolver.abandoned_threads` until yt-dlp's socket timeout ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import httpx
import structlog

from voice_worker.sources.config import ResolverConfig
from voice_worker.sources.errors import (
    InvalidQuery,
    ResolveTimeout,
    SourceError,
    SourceUnavailable,
    UnsupportedLink,
)
from voice_worker.sources.info import (
    RawInfo,
    is_full_entry,
    is_playlist,
    ref_from_entry,
    track_from_info,
)
from voice_worker.sources.logsafe import url_host
from voice_worker.sources.models import Lookup, Track, TrackRef
from voice_worker.sources.probe import ProbeFailed, probe
from voice_worker.sources.query import Query, QueryKind, classify_query
from voice_worker.sources.redirects import follow_redirects
from voice_worker.sources.ssrf import AsyncResolve, SyncResolve, ensure_safe_url
from voice_worker.sources.ytdl import build_params, extract_info, has_dedicated_extractor

log = structlog.get_logger(__name__)

_T = TypeVar("_T")
# (search words, how many results) -> what yt-dlp extracts.
SearchTarget = Callable[[str, int], str]


def youtube_search(words: str, limit: int) -> str:
    """yt-dlp's YouTube search for the top ``limit`` results (words already cleaned)."""
    return f"ytsearch{limit}:{words}"


_NOISY_REASONS = frozenset({"blocked", "failed", "timeout"})


@dataclass(frozen=True)
class _Vetted:
    """A URL that passed the guard; ``preflighted`` when we followed its redirects ourselves."""

    url: str
    dedicated: bool  # a site-specific yt-dlp extractor claims it
    preflighted: bool


class _ThreadLedger:
    """Counts yt-dlp threads still running after their caller gave up (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = 0

    @property
    def abandoned(self) -> int:
        with self._lock:
            return self._abandoned

    def abandon(self, future: Future[Any]) -> None:
        with self._lock:
            self._abandoned += 1
        future.add_done_callback(self._release)

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._abandoned -= 1


class Resolver:
    """Resolves queries and queued refs into playable :class:`Track` objects."""

    def __init__(
        self,
        config: ResolverConfig,
        *,
        executor: Executor | None = None,
        http_client: httpx.AsyncClient | None = None,
        resolve: AsyncResolve | None = None,
        resolve_sync: SyncResolve | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        search_target: SearchTarget = youtube_search,
    ) -> None:
        # search_target: what yt-dlp extracts for /search (tests point it at a local page).
        self._search_target = search_target
        self._config = config
        self._policy = config.url_policy
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(
            max_workers=config.max_workers, thread_name_prefix="yt-dlp"
        )
        self._owns_client = http_client is None
        self._client = http_client or _default_client(config)
        self._resolve = resolve
        self._resolve_sync = resolve_sync
        self._clock = clock
        self._threads = _ThreadLedger()

    @property
    def config(self) -> ResolverConfig:
        """The configuration this resolver runs with."""
        return self._config

    @property
    def abandoned_threads(self) -> int:
        """yt-dlp threads still running although their resolution timed out."""
        return self._threads.abandoned

    async def lookup(self, query: str) -> Lookup:
        """Resolve what a user typed: a link (maybe a playlist) or search words."""
        started = time.monotonic()
        with self._failure_logged(log, started, "source.lookup.failed"):
            parsed = classify_query(query, max_search_length=self._config.max_query_length)
        bound = log.bind(
            query_kind=str(parsed.kind),
            host=url_host(parsed.text) if parsed.kind is QueryKind.URL else None,
        )
        with self._failure_logged(bound, started, "source.lookup.failed"):
            async with asyncio.timeout(self._config.timeout_s):
                result = await self._lookup(query, parsed)
        bound.info(
            "source.lookup.done",
            entries=len(result.entries),
            resolved=result.first_track is not None,
            elapsed_ms=_elapsed_ms(started),
        )
        return result

    async def search(self, words: str, *, limit: int) -> tuple[TrackRef, ...]:
        """The top ``limit`` results for search words (flat: titles and links, no streams)."""
        started = time.monotonic()
        bound = log.bind(query_kind="search_menu")
        with self._failure_logged(bound, started, "source.search.failed"):
            parsed = classify_query(words, max_search_length=self._config.max_query_length)
            if parsed.kind is not QueryKind.SEARCH:
                raise InvalidQuery("link", "That's a link: use /play to play it.")
            async with asyncio.timeout(self._config.timeout_s):
                target = self._search_target(parsed.text, limit)
                if target.lower().startswith(("http://", "https://")):
                    target = (await self._vet_url(target)).url
                info = await self._extract(target, flat=True)
        raw = (info.get("entries") or []) if is_playlist(info) else [info]
        parent_url = info.get("webpage_url")
        refs = [
            ref_from_entry(cast(RawInfo, entry), parent_url=parent_url)
            for entry in list(raw)[:limit]
            if isinstance(entry, dict)
        ]
        results = tuple(ref for ref in refs if ref is not None)
        bound.info(
            "source.search.done",
            results=len(results),
            elapsed_ms=_elapsed_ms(started),
        )
        return results

    async def resolve(self, ref: TrackRef) -> Track:
        """Resolve one queued ref into a fresh :class:`Track` (a new stream URL)."""
        started = time.monotonic()
        bound = log.bind(host=url_host(ref.webpage_url))
        with self._failure_logged(bound, started, "source.resolve.failed"):
            async with asyncio.timeout(self._config.timeout_s):
                vetted = await self._vet_url(ref.webpage_url)
                info = await self._extract(vetted.url, flat=False, single=True)
                if is_playlist(info):
                    entries = info.get("entries") or []
                    if not entries:
                        raise SourceUnavailable("empty")
                    info = entries[0]
                track = await self._finalize(info, vetted)
        bound.info(
            "source.resolve.done",
            codec=track.codec,
            passthrough=track.is_opus_passthrough,
            stream_host=track.stream_host,
            elapsed_ms=_elapsed_ms(started),
        )
        return track

    async def aclose(self) -> None:
        """Close what this resolver created (the HTTP client, the thread pool)."""
        if self._owns_client:
            await self._client.aclose()
        if self._owns_executor:
            # wait=False: a thread stuck in yt-dlp must not hold up shutdown.
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- steps ----------------------------------------------------------------------------
    async def _lookup(self, query: str, parsed: Query) -> Lookup:
        if parsed.kind is QueryKind.SEARCH:
            info = await self._extract(parsed.ytdlp_target, flat=False)
            return await self._to_lookup(query, info, vetted=None)
        vetted = await self._vet_url(parsed.text)
        info = await self._extract(vetted.url, flat=True)
        return await self._to_lookup(query, info, vetted=vetted)

    async def _vet_url(self, url: str) -> _Vetted:
        """Guard the URL; for links only the generic extractor handles, follow redirects here."""
        checked = await ensure_safe_url(url, self._policy, self._resolve)
        if await self._in_thread(has_dedicated_extractor, checked.url):
            # Site extractors build their own API requests (guarded in GuardedYoutubeDL); a
            # preflight GET to e.g. YouTube would cost time and may land on a consent page.
            return _Vetted(checked.url, dedicated=True, preflighted=False)
        final = await follow_redirects(
            checked.url,
            self._policy,
            client=self._client,
            max_redirects=self._config.max_redirects,
            resolve=self._resolve,
        )
        return _Vetted(final.url, dedicated=False, preflighted=True)

    async def _extract(self, target: str, *, flat: bool, single: bool = False) -> RawInfo:
        params = build_params(self._config, flat=flat, single=single)
        return await self._in_thread(
            extract_info, target, params, policy=self._policy, resolve=self._resolve_sync
        )

    async def _to_lookup(self, query: str, info: RawInfo, *, vetted: _Vetted | None) -> Lookup:
        if not is_playlist(info):
            return Lookup(query, (await self._finalize(info, vetted),))
        raw_entries = list(info.get("entries") or [])
        cap = self._config.max_playlist_items
        entries: list[TrackRef] = []
        parent_url = info.get("webpage_url")
        for entry in raw_entries[:cap]:
            if not entries and is_full_entry(entry):
                # Searches come back fully extracted: the first result is ready to play.
                entries.append(await self._finalize(entry, vetted))
                continue
            ref = ref_from_entry(entry, parent_url=parent_url)
            if ref is not None:
                entries.append(ref)
        if not entries:
            raise SourceUnavailable("no_results", "Nothing playable was found for that.")
        count = info.get("playlist_count")
        truncated = len(raw_entries) > cap or (isinstance(count, int) and count > cap)
        title = info.get("title") if vetted is not None else None
        return Lookup(query, tuple(entries), str(title) if title else None, truncated)

    async def _finalize(self, info: RawInfo, vetted: _Vetted | None) -> Track:
        """Vet the stream URL yt-dlp returned, follow its redirects, probe it if needed."""
        track = track_from_info(
            info, now=self._clock(), default_ttl_s=self._config.default_stream_ttl_s
        )
        generic = vetted is not None and not vetted.dedicated
        if track.is_manifest and generic and not self._config.allow_generic_manifests:
            raise UnsupportedLink("manifest", "Streams from that site aren't supported.")
        stream_url = track.stream_url
        if vetted is None or not vetted.preflighted or stream_url != vetted.url:
            stream_url = (await ensure_safe_url(stream_url, self._policy, self._resolve)).url
            if self._config.preflight_stream_url and not track.is_manifest:
                final = await follow_redirects(
                    stream_url,
                    self._policy,
                    client=self._client,
                    max_redirects=self._config.max_redirects,
                    resolve=self._resolve,
                    headers=track.http_headers,
                )
                stream_url = final.url
        update: dict[str, Any] = {"stream_url": stream_url}
        if not track.is_manifest and (
            track.codec is None or (track.duration_s is None and not track.is_live)
        ):
            update.update(await self._probe(stream_url, track))
        return track.model_copy(update=update)

    async def _probe(self, stream_url: str, track: Track) -> dict[str, Any]:
        try:
            result = await probe(
                stream_url,
                track.http_headers,
                timeout_s=self._config.probe_timeout_s,
                ffprobe_path=self._config.ffprobe_path,
            )
        except ProbeFailed as exc:
            # Unknown codec: the player transcodes, which always works if ffmpeg can read it.
            log.warning("source.probe.failed", host=url_host(stream_url), error=str(exc))
            return {}
        if result.codec is None:
            raise UnsupportedLink("no_audio", "No playable audio was found at that link.")
        update: dict[str, Any] = {"codec": track.codec or result.codec}
        if track.container is None or track.container.startswith("unknown"):
            update["container"] = result.container
        if track.duration_s is None and result.duration_s is not None:
            update["duration_s"] = result.duration_s
        return update

    async def _in_thread(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        future = self._executor.submit(functools.partial(fn, *args, **kwargs))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future.running():
                self._threads.abandon(future)  # it can't be stopped; count it until it ends
            raise

    @contextlib.contextmanager
    def _failure_logged(self, bound: Any, started: float, event: str) -> Iterator[None]:
        """Log a source error raised in the block as ``event``; a timeout becomes ResolveTimeout."""
        try:
            yield
        except TimeoutError:
            raise self._logged(bound, ResolveTimeout("timeout"), started, event) from None
        except SourceError as exc:
            self._logged(bound, exc, started, event)
            raise

    def _logged(self, bound: Any, exc: SourceError, started: float, event: str) -> SourceError:
        level = "warning" if exc.reason in _NOISY_REASONS else "info"
        getattr(bound, level)(
            event,
            error=type(exc).__name__,
            reason=exc.reason,
            elapsed_ms=_elapsed_ms(started),
            abandoned_threads=self._threads.abandoned,
        )
        return exc


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _default_client(config: ResolverConfig) -> httpx.AsyncClient:
    proxy = config.proxy if config.proxy and config.proxy.startswith("http") else None
    return httpx.AsyncClient(
        timeout=httpx.Timeout(config.timeout_s),
        headers={"User-Agent": config.user_agent},
        trust_env=False,  # the operator's proxy comes from config, not the environment
        proxy=proxy,
    )
