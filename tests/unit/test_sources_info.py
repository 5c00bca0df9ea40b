"""yt-dlp info dicts into Track models: expiry, passthrough, refs from flat playlists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from voice_worker.sources.errors import UnsupportedLink
from voice_worker.sources.info import RawInfo, parse_expiry, ref_from_entry, track_from_info

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRE = int(NOW.timestamp()) + 21540


def youtube_info(**overrides: object) -> RawInfo:
    info = {
        "id": "dQw4w9WgXcQ",
        "title": "Song",
        "webpage_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "url": f"https://rr1---sn-x.googlevideo.com/videoplayback?expire={EXPIRE}&sig=SECRET",
        "duration": 212,
        "uploader": "Rick",
        "acodec": "opus",
        "vcodec": "none",
        "ext": "webm",
        "protocol": "https",
        "format_id": "251",
        "http_headers": {"User-Agent": "UA", "Accept": "*/*"},
        "extractor_key": "Youtube",
    }
    info.update(overrides)
    return info  # type: ignore[return-value]


def test_youtube_opus_is_passthrough_with_signed_expiry() -> None:
    track = track_from_info(youtube_info(), now=NOW, default_ttl_s=3600)
    assert track.is_opus_passthrough
    assert track.duration_s == 212.0
    assert track.expires_at == NOW + timedelta(seconds=21540)
    assert track.http_headers == {"User-Agent": "UA", "Accept": "*/*"}
    assert track.stream_host == "rr1---sn-x.googlevideo.com"
    assert track.extractor == "youtube"


@pytest.mark.parametrize(
    ("overrides", "passthrough"),
    [
        ({"acodec": "mp4a.40.2", "ext": "m4a"}, False),
        ({"acodec": "opus", "ext": "mp4"}, False),
        ({"acodec": "opus", "ext": "ogg"}, True),
        ({"acodec": "opus", "ext": "webm", "protocol": "m3u8_native"}, False),
        ({"acodec": None, "ext": "webm"}, False),
    ],
)
def test_passthrough_needs_opus_in_webm_or_ogg_over_http(
    overrides: dict[str, object], passthrough: bool
) -> None:
    track = track_from_info(youtube_info(**overrides), now=NOW, default_ttl_s=3600)
    assert track.is_opus_passthrough is passthrough


def test_default_ttl_when_no_expiry() -> None:
    expiry = parse_expiry("https://cdn.example.com/a.mp3?token=x", now=NOW, default_ttl_s=600)
    assert expiry == NOW + timedelta(seconds=600)


def test_expiry_in_manifest_path_and_bogus_values() -> None:
    in_path = (
        f"https://manifest.googlevideo.com/api/manifest/hls/expire/{int(NOW.timestamp()) + 60}/x"
    )
    assert parse_expiry(in_path, now=NOW, default_ttl_s=600) == NOW + timedelta(seconds=60)
    past = "https://x.googlevideo.com/v?expire=1000000000"
    assert parse_expiry(past, now=NOW, default_ttl_s=600) == NOW + timedelta(seconds=600)


def test_no_audio_is_unsupported() -> None:
    with pytest.raises(UnsupportedLink):
        track_from_info(youtube_info(acodec="none"), now=NOW, default_ttl_s=60)
    with pytest.raises(UnsupportedLink):
        track_from_info(youtube_info(url=None), now=NOW, default_ttl_s=60)


def test_persisted_ref_round_trips() -> None:
    track = track_from_info(youtube_info(), now=NOW, default_ttl_s=60)
    ref = track.as_ref()
    assert type(ref).model_validate_json(ref.model_dump_json()) == ref
    assert "stream_url" not in ref.model_dump()


def test_flat_entries_become_refs_only_with_http_urls() -> None:
    ref = ref_from_entry(
        {"_type": "url", "url": "https://www.youtube.com/watch?v=a", "title": "A", "duration": 5}
    )
    assert ref is not None and ref.title == "A" and ref.duration_s == 5.0
    assert ref_from_entry({"_type": "url", "url": "dQw4w9WgXcQ", "title": "bare id"}) is None
    assert ref_from_entry({"_type": "url", "url": "file:///etc/passwd"}) is None
