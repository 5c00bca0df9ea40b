"""The resolver against real yt-dlp, httpx and ffprobe, on tones served from 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fixtures_audio import ToneServer
from voice_worker.sources import (
    ResolverConfig,
    ResolveTimeout,
    SourceUnavailable,
    StreamCache,
    Track,
    TrackRef,
    UnsafeUrl,
    describe,
    format_description,
)
from voice_worker.sources.resolver import Resolver
from voice_worker.sources.ssrf import UrlPolicy
from voice_worker.sources.ytdl import build_params, extract_info

METADATA_URL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


class RequestLog:
    """httpx event hook recording every request the preflight actually sends."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.urls.append(str(request.url))


@pytest.fixture
async def sent() -> RequestLog:
    return RequestLog()


@pytest.fixture
async def resolver(sent: RequestLog) -> AsyncIterator[Resolver]:
    config = ResolverConfig(allow_private_addresses=True, timeout_s=10.0)
    client = httpx.AsyncClient(timeout=10.0, event_hooks={"request": [sent]})
    async with client, Resolver(config, http_client=client) as resolver:
        yield resolver


async def test_opus_webm_is_passthrough_with_duration(
    resolver: Resolver, tone_server: ToneServer
) -> None:
    lookup = await resolver.lookup(tone_server.url(440, 3.0, "webm"))
    track = lookup.first_track
    assert track is not None
    assert track.is_opus_passthrough
    assert (track.codec, track.container) == ("opus", "webm")
    assert track.duration_s == pytest.approx(3.0, abs=0.1)
    assert track.stream_url == tone_server.url(440, 3.0, "webm")
    assert track.expires_at.tzinfo is not None


@pytest.mark.parametrize(("fmt", "codec"), [("mp3", "mp3"), ("m4a", "aac")])
async def test_other_codecs_need_transcoding(
    resolver: Resolver, tone_server: ToneServer, fmt: str, codec: str
) -> None:
    lookup = await resolver.lookup(tone_server.url(330, 2.0, fmt))
    track = lookup.first_track
    assert track is not None and not track.is_opus_passthrough
    assert track.codec == codec
    assert track.duration_s == pytest.approx(2.0, abs=0.15)


async def test_ogg_opus_is_passthrough(resolver: Resolver, tone_server: ToneServer) -> None:
    track = (await resolver.lookup(tone_server.url(550, 2.0, "ogg"))).first_track
    assert track is not None and track.is_opus_passthrough and track.container == "ogg"


async def test_dead_url_is_unavailable(resolver: Resolver, tone_server: ToneServer) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        await resolver.lookup(tone_server.missing_url())
    assert caught.value.reason == "not_found"
    assert caught.value.user_message == (
        "That track is unavailable (removed, private or unreachable)."
    )


async def test_refused_connection_is_unavailable(resolver: Resolver) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceUnavailable) as caught:
        await resolver.lookup(f"http://127.0.0.1:{port}/a.webm")
    assert caught.value.reason == "unreachable"


async def test_hanging_server_times_out_in_budget(tone_server: ToneServer) -> None:
    async with Resolver(ResolverConfig(allow_private_addresses=True, timeout_s=0.5)) as resolver:
        started = time.monotonic()
        with pytest.raises(ResolveTimeout):
            await resolver.lookup(tone_server.hang_url())
        assert time.monotonic() - started < 1.5


async def test_hung_yt_dlp_thread_does_not_exhaust_the_pool(tone_server: ToneServer) -> None:
    # GIVEN a pool of 2 threads and a server that stalls yt-dlp mid-body (after our preflight)
    config = ResolverConfig(
        allow_private_addresses=True, timeout_s=1.5, socket_timeout_s=2.5, max_workers=2
    )
    async with Resolver(config) as resolver:
        await resolver.lookup(tone_server.url(440, 1.0, "mp3"))  # warm yt-dlp's extractor list
        started = time.monotonic()
        # WHEN a lookup hangs inside yt-dlp
        with pytest.raises(ResolveTimeout):
            await resolver.lookup(tone_server.hang_body_url())
        # THEN the caller is answered within the budget, the stuck thread is counted...
        assert time.monotonic() - started < 2.5
        assert resolver.abandoned_threads == 1
        # ...another lookup still works meanwhile...
        assert (await resolver.lookup(tone_server.url(440, 1.0, "webm"))).first_track is not None
        # ...and yt-dlp's socket timeout frees the stuck thread soon after.
        deadline = time.monotonic() + 5
        # Polling is the honest check: the counter changes on a thread we don't control.
        while resolver.abandoned_threads and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert resolver.abandoned_threads == 0


async def test_redirect_to_metadata_is_refused_before_the_hop(
    resolver: Resolver, tone_server: ToneServer, sent: RequestLog
) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await resolver.lookup(tone_server.redirect_url(METADATA_URL))
    assert caught.value.reason == "metadata_address"
    # Only the redirecting URL was requested: the guard raised before the metadata hop.
    assert sent.urls == [tone_server.redirect_url(METADATA_URL)]
    assert tone_server.request_count("/redirect") == 1
    assert tone_server.request_count("/") == 1  # yt-dlp never ran


async def test_redirect_to_a_tone_is_followed(resolver: Resolver, tone_server: ToneServer) -> None:
    target = tone_server.url(440, 2.0, "webm")
    track = (await resolver.lookup(tone_server.redirect_url(target))).first_track
    assert track is not None and track.stream_url == target and track.is_opus_passthrough


async def test_redirect_loop_is_refused(resolver: Resolver, tone_server: ToneServer) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await resolver.lookup(tone_server.redirect_loop_url())
    assert caught.value.reason == "too_many_redirects"


async def test_private_url_refused_without_any_request(tone_server: ToneServer) -> None:
    async with Resolver(ResolverConfig(allow_private_addresses=False)) as resolver:
        with pytest.raises(UnsafeUrl) as caught:
            await resolver.lookup(tone_server.url(440, 1.0, "webm"))
    assert caught.value.user_message == (
        "That link points to a private network address and can't be played."
    )
    assert tone_server.requests == []


async def test_stream_url_returned_by_yt_dlp_is_checked(
    resolver: Resolver, tone_server: ToneServer, sent: RequestLog
) -> None:
    # GIVEN a page whose <audio src> points at the metadata service
    with pytest.raises(UnsafeUrl) as caught:
        await resolver.lookup(tone_server.page_url(METADATA_URL))
    # THEN the stream URL yt-dlp extracted is refused before anyone (ffprobe, ffmpeg) opens it
    assert caught.value.reason == "metadata_address"
    assert [httpx.URL(url).host for url in sent.urls] == ["127.0.0.1"]


async def test_html_page_with_audio_resolves(resolver: Resolver, tone_server: ToneServer) -> None:
    src = tone_server.url(660, 2.0, "mp3")
    track = (await resolver.lookup(tone_server.page_url(src))).first_track
    assert track is not None and track.stream_url == src and track.codec == "mp3"


async def test_playlists_are_capped_and_resolved_lazily(tone_server: ToneServer) -> None:
    # GIVEN a page with three tones and a cap of two
    srcs = [tone_server.url(f, 1.0, fmt) for f, fmt in ((440, "mp3"), (550, "webm"), (660, "ogg"))]
    config = ResolverConfig(allow_private_addresses=True, max_playlist_items=2)
    async with Resolver(config) as resolver:
        lookup = await resolver.lookup(tone_server.page_url(*srcs))
        # THEN the first is playable now, the second is a ref, the third was cut
        assert lookup.truncated and lookup.playlist_title == "Tone page"
        first, second = lookup.entries
        assert isinstance(first, Track) and first.stream_url == srcs[0]
        assert not isinstance(second, Track) and second.webpage_url == srcs[1]
        assert tone_server.request_count("/tone/550") == 0  # not fetched until needed
        # WHEN the player gets to the second THEN it resolves on its own
        track = await resolver.resolve(second)
        assert track.is_opus_passthrough and track.stream_url == srcs[1]


async def test_resolve_ref_again_and_cache(resolver: Resolver, tone_server: ToneServer) -> None:
    ref = TrackRef(title="queued", webpage_url=tone_server.url(440, 2.0, "ogg"))
    cache = StreamCache(resolver)
    prefetched = await cache.prefetch(ref)
    assert isinstance(prefetched, Track) and prefetched.is_opus_passthrough
    count = tone_server.request_count("/tone/")
    assert await cache.get(ref) is prefetched
    assert tone_server.request_count("/tone/") == count  # served from the cache
    await cache.aclose()


async def test_describe_summarises_without_the_signed_url(
    resolver: Resolver, tone_server: ToneServer
) -> None:
    info = await describe(tone_server.url(440, 3.0, "webm"), resolver)
    assert info["passthrough"] is True and info["codec"] == "opus"
    assert info["duration_s"] == pytest.approx(3.0, abs=0.1)
    assert info["stream_host"] == "127.0.0.1" and "stream_url" not in info
    assert info["expires_at"].endswith("+00:00")
    text = format_description(info)
    assert "Passthrough: yes" in text and "Codec:       opus in webm" in text


def test_yt_dlp_requests_are_guarded_too(tone_server: ToneServer) -> None:
    # Even if yt-dlp were handed a private URL directly, its own request is refused unsent.
    params = build_params(ResolverConfig(), flat=True)
    with pytest.raises(UnsafeUrl):
        extract_info(tone_server.url(440, 1.0, "mp3"), params, policy=UrlPolicy())
    assert tone_server.requests == []
