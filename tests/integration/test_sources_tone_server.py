"""The tone server fixture itself: ranges, formats, misbehaving endpoints."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures_audio import TONE_FORMATS, ToneServer, ffprobe


@pytest.mark.parametrize(
    ("fmt", "codec"), [("webm", "opus"), ("ogg", "opus"), ("mp3", "mp3"), ("m4a", "aac")]
)
def test_tones_are_what_they_claim(tone_server: ToneServer, fmt: str, codec: str) -> None:
    info = ffprobe(tone_server.url(440, 1.0, fmt))
    assert info["streams"][0]["codec_name"] == codec
    assert float(info["format"]["duration"]) == pytest.approx(1.0, abs=0.1)
    response = httpx.head(tone_server.url(440, 1.0, fmt))
    assert response.headers["content-type"] == TONE_FORMATS[fmt][1]


def test_range_requests(tone_server: ToneServer) -> None:
    url = tone_server.url(440, 1.0, "webm")
    size = tone_server.file(440, 1.0, "webm").stat().st_size
    partial = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206 and len(partial.content) == 10
    assert partial.headers["content-range"] == f"bytes 10-19/{size}"
    tail = httpx.get(url, headers={"Range": "bytes=-5"})
    assert (
        tail.status_code == 206
        and tail.content == tone_server.file(440, 1.0, "webm").read_bytes()[-5:]
    )
    assert httpx.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416


def test_helpers_and_request_log(tone_server: ToneServer) -> None:
    assert httpx.get(tone_server.missing_url()).status_code == 404
    redirect = httpx.get(tone_server.redirect_url("http://169.254.169.254/x"))
    assert (
        redirect.status_code == 302 and redirect.headers["location"] == "http://169.254.169.254/x"
    )
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(tone_server.hang_url(), timeout=0.3)
    assert [r.path for r in tone_server.requests][:1] == ["/missing/gone.webm"]
    assert tone_server.request_count("/hang") == 1
