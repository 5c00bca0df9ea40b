"""Run ffmpeg with the built argv on served tones and check the Ogg Opus it writes."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures_audio import ToneServer, ffprobe
from voice_worker.sources.ffmpeg import AudioOptions, build_ffmpeg_argv
from voice_worker.sources.models import Track
from voice_worker.sources.probe import ProbeFailed, probe


def track_for(url: str, codec: str, container: str) -> Track:
    return Track(
        title="tone",
        webpage_url=url,
        stream_url=url,
        codec=codec,
        container=container,
        protocol="http",
        http_headers={"User-Agent": "musicbot-test"},
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def run_ffmpeg(argv: list[str], out: Path) -> Path:
    result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    out.write_bytes(result.stdout)
    return out


def packet_hashes(path: Path | str) -> list[str]:
    """Per-packet payload MD5s of the first audio stream, copied (not decoded)."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-c",
            "copy",
            "-f",
            "framemd5",
            "-",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.decode()
    # "stream, dts, pts, duration, size, md5[, side data...]": compare payloads, not timestamps
    # (the Ogg muxer rebases them and records the encoder delay as side data).
    return [line.split(",")[5].strip() for line in out.splitlines() if not line.startswith("#")]


def audio_stream(info: dict[str, object]) -> dict[str, object]:
    streams = info["streams"]
    assert isinstance(streams, list) and len(streams) == 1
    stream = streams[0]
    assert isinstance(stream, dict)
    return stream


def test_passthrough_copies_opus_packets_untouched(tone_server: ToneServer, tmp_path: Path) -> None:
    url = tone_server.url(440, 2.0, "webm")
    argv = build_ffmpeg_argv(track_for(url, "opus", "webm"))
    assert "copy" in argv
    out = run_ffmpeg(argv, tmp_path / "out.opus")
    info = ffprobe(out)
    assert info["format"]["format_name"] == "ogg"
    assert audio_stream(info)["codec_name"] == "opus"
    assert packet_hashes(out) == packet_hashes(tone_server.file(440, 2.0, "webm"))
    # ffmpeg sent yt-dlp's headers
    assert any(r.headers.get("User-Agent") == "musicbot-test" for r in tone_server.requests)


def test_mp3_is_transcoded_to_48k_stereo_opus(tone_server: ToneServer, tmp_path: Path) -> None:
    url = tone_server.url(330, 2.0, "mp3")
    out = run_ffmpeg(build_ffmpeg_argv(track_for(url, "mp3", "mp3")), tmp_path / "out.opus")
    info = ffprobe(out)
    stream = audio_stream(info)
    assert info["format"]["format_name"] == "ogg"
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("opus", "48000", 2)
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.15)


def test_volume_filter_transcodes_opus(tone_server: ToneServer, tmp_path: Path) -> None:
    url = tone_server.url(440, 2.0, "ogg")
    argv = build_ffmpeg_argv(track_for(url, "opus", "ogg"), AudioOptions(volume=0.5))
    out = run_ffmpeg(argv, tmp_path / "out.opus")
    assert audio_stream(ffprobe(out))["codec_name"] == "opus"
    assert packet_hashes(out) != packet_hashes(tone_server.file(440, 2.0, "ogg"))


@pytest.mark.parametrize(("fmt", "codec"), [("webm", "opus"), ("m4a", "aac")])
def test_start_position_skips_ahead(
    tone_server: ToneServer, tmp_path: Path, fmt: str, codec: str
) -> None:
    url = tone_server.url(440, 3.0, fmt)
    argv = build_ffmpeg_argv(track_for(url, codec, fmt), AudioOptions(start_s=1.0))
    out = run_ffmpeg(argv, tmp_path / "out.opus")
    assert float(ffprobe(out)["format"]["duration"]) == pytest.approx(2.0, abs=0.25)


def test_ffmpeg_does_not_follow_redirects(tone_server: ToneServer, tmp_path: Path) -> None:
    # Redirects are the resolver's job (checked hop by hop); ffmpeg must refuse new ones.
    target = tone_server.url(440, 1.0, "webm")
    argv = build_ffmpeg_argv(track_for(tone_server.redirect_url(target), "opus", "webm"))
    result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert result.returncode != 0
    assert tone_server.request_count("/tone/") == 0


def test_ffmpeg_refuses_playlists_posing_as_files(tone_server: ToneServer) -> None:
    # A hostile "audio file" that is really an HLS playlist must not make ffmpeg fetch its entries.
    target = tone_server.url(440, 1.0, "mp3")
    argv = build_ffmpeg_argv(track_for(tone_server.playlist_url(target), "mp3", "mp3"))
    result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert result.returncode != 0
    assert tone_server.request_count("/tone/") == 0


async def test_probe_reads_codec_and_duration(tone_server: ToneServer) -> None:
    result = await probe(tone_server.url(440, 2.0, "webm"), {}, timeout_s=10)
    assert (result.codec, result.container) == ("opus", "webm")
    assert result.duration_s == pytest.approx(2.0, abs=0.1)


async def test_probe_of_hanging_server_is_killed_on_timeout(tone_server: ToneServer) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProbeFailed):
        await probe(tone_server.hang_url(), {}, timeout_s=0.5)
    assert loop.time() - started < 2.0
