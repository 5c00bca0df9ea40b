"""The player's audio sources on served tones: what discord.py's player thread would send.

GIVEN a tone served over HTTP, WHEN a source is read packet by packet as the player thread
does, THEN every packet is an Opus frame that decodes to the tone (checked with libopus).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fake_discord.opus import OpusDecoder, OpusLibrary
from tests.fixtures_audio import ToneServer
from tests.integration.test_sources_ffmpeg import packet_hashes
from voice_worker.player import InProcessOpusAudio, TimedOpusAudio, opus_source_args
from voice_worker.sources.demux import DemuxUnavailable, OpusDemuxer, avformat_options
from voice_worker.sources.ffmpeg import AudioOptions
from voice_worker.sources.models import Track

SAMPLE_RATE = 48_000


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


def read_all(source: TimedOpusAudio | InProcessOpusAudio) -> list[bytes]:
    packets = []
    try:
        while packet := source.read():
            packets.append(packet)
    finally:
        source.cleanup()
    return packets


def dominant_hz(packets: list[bytes]) -> float:
    decoder = OpusDecoder(OpusLibrary.load())
    try:
        pcm = np.concatenate(
            [decoder.decode(p).copy() for p in packets if p[:8] not in (b"OpusHead", b"OpusTags")]
        ).astype(np.float64)
    finally:
        decoder.close()
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(pcm))


def test_opus_is_demuxed_in_process_packet_for_packet(tone_server: ToneServer) -> None:
    # GIVEN Opus in WebM
    url = tone_server.url(440, 2.0, "webm")
    track = track_for(url, "opus", "webm")
    first: list[bool] = []
    # WHEN the in-process source is read to the end
    source = InProcessOpusAudio(OpusDemuxer(track), on_first_packet=lambda: first.append(True))
    assert source.is_opus()
    packets = read_all(source)
    # THEN the packets are the file's own Opus packets, untouched, at 440 Hz, and the first
    # packet was reported once
    assert [hashlib.md5(p).hexdigest() for p in packets] == packet_hashes(
        tone_server.file(440, 2.0, "webm")
    )
    assert abs(dominant_hz(packets) - 440) < 5
    assert first == [True]
    # and the resolver's headers went with the request
    assert any(r.headers.get("User-Agent") == "musicbot-test" for r in tone_server.requests)


def test_demux_seeks_to_the_start_position(tone_server: ToneServer) -> None:
    track = track_for(tone_server.url(440, 3.0, "ogg"), "opus", "ogg")
    whole = read_all(InProcessOpusAudio(OpusDemuxer(track), on_first_packet=lambda: None))
    rest = read_all(
        InProcessOpusAudio(OpusDemuxer(track, start_s=2.0), on_first_packet=lambda: None)
    )
    # 20 ms packets: about 150 in 3 s, about 50 after a seek to 2 s (the demuxer lands on a
    # packet boundary at or before the position)
    assert 145 <= len(whole) <= 155
    assert 45 <= len(rest) <= 60


@pytest.mark.parametrize("fmt", ["mp3", "m4a"])
def test_other_codecs_are_refused_by_the_demuxer(tone_server: ToneServer, fmt: str) -> None:
    # GIVEN a source the resolver wrongly said was Opus: the demuxer checks for itself
    track = track_for(tone_server.url(440, 1.0, fmt), "opus", "webm")
    with pytest.raises(DemuxUnavailable, match="not Opus"):
        OpusDemuxer(track)


def test_missing_stream_is_unavailable_not_a_crash(tone_server: ToneServer) -> None:
    track = track_for(tone_server.missing_url(), "opus", "webm")
    with pytest.raises(DemuxUnavailable, match="cannot open"):
        OpusDemuxer(track)


def test_demux_options_are_the_ffmpeg_input_guards() -> None:
    track = track_for("https://cdn.example.com/a.webm", "opus", "webm")
    options = avformat_options(track)
    assert options["protocol_whitelist"] == "http,https,tcp,tls"
    assert options["max_redirects"] == "0"
    assert "hls" not in options["format_whitelist"]
    assert options["headers"] == "User-Agent: musicbot-test\r\n"
    assert options["reconnect"] == "1"
    assert options["multiple_requests"] == "1"  # keep-alive: seeks need it (demux.py)


def test_non_http_input_is_refused_before_opening() -> None:
    track = track_for("https://cdn.example.com/a.webm", "opus", "webm").model_copy(
        update={"stream_url": "file:///etc/passwd"}
    )
    with pytest.raises(ValueError, match="http"):
        OpusDemuxer(track)


def test_mp3_is_encoded_by_ffmpeg_not_copied(tone_server: ToneServer) -> None:
    # GIVEN an MP3 source and the player's FFmpegOpusAudio arguments (libopus at 96 kbps)
    track = track_for(tone_server.url(660, 2.0, "mp3"), "mp3", "mp3")
    args = opus_source_args(track, AudioOptions(bitrate_kbps=96))
    # WHEN discord.py's source reads it (ffmpeg must encode: discord.py treats "libopus" as copy)
    packets = read_all(TimedOpusAudio(track.stream_url, on_first_packet=lambda: None, **args))
    # THEN about 2 s of Opus comes out, at 660 Hz
    audio = [p for p in packets if p[:8] not in (b"OpusHead", b"OpusTags")]
    assert 95 <= len(audio) <= 105
    assert abs(dominant_hz(audio) - 660) < 5


def test_encoding_uses_a_moderate_opus_complexity(tone_server: ToneServer) -> None:
    # Encoding CPU is what limits transcoded streams per vCPU (bench/): complexity 5, not 10
    encoded = opus_source_args(
        track_for(tone_server.url(660, 1.0, "mp3"), "mp3", "mp3"), AudioOptions()
    )
    copied = opus_source_args(
        track_for(tone_server.url(660, 1.0, "webm"), "opus", "webm"), AudioOptions()
    )
    assert "-compression_level 5" in str(encoded["options"])
    assert "-compression_level" not in str(copied["options"])
