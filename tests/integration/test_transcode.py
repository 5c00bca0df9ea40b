"""The in-process encoder on served tones: what the pacer would send for a source that needs
decoding (another codec, /volume, a preset, normalisation, a seek).

GIVEN a tone served over HTTP, WHEN the transcoder is read packet by packet as a reader thread
does, THEN every packet is a 20 ms Opus frame and the decoded audio is the tone, changed as
asked (checked with libopus).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fake_discord.opus import OpusDecoder, OpusLibrary
from tests.fixtures_audio import ToneServer
from tests.integration.test_player_sources import dominant_hz, read_all, track_for
from voice_worker.player import InProcessOpusAudio
from voice_worker.sources.demux import DemuxUnavailable
from voice_worker.sources.ffmpeg import PRESETS, AudioOptions
from voice_worker.sources.transcode import OPUS_COMPLEXITY, OpusTranscoder

WAIT_S = 10.0


def transcode(url: str, options: AudioOptions, codec: str = "mp3", fmt: str = "mp3") -> list[bytes]:
    source = InProcessOpusAudio(
        OpusTranscoder(track_for(url, codec, fmt), options), on_first_packet=lambda: None
    )
    return read_all(source)


def frame_lengths(packets: list[bytes]) -> set[int]:
    """Samples per decoded packet (mono at 48 kHz)."""
    decoder = OpusDecoder(OpusLibrary.load())
    try:
        return {len(decoder.decode(p)) for p in packets}
    finally:
        decoder.close()


def rms(packets: list[bytes]) -> float:
    decoder = OpusDecoder(OpusLibrary.load())
    try:
        pcm = np.concatenate([decoder.decode(p).copy() for p in packets]).astype(np.float64)
    finally:
        decoder.close()
    settled = pcm[len(pcm) // 4 :]  # past the encoder's start-up
    return float(np.sqrt(np.mean(settled**2)))


def test_mp3_becomes_20ms_opus_frames_of_the_same_tone(tone_server: ToneServer) -> None:
    # GIVEN a 2 s MP3 at 660 Hz and the resolver's headers
    url = tone_server.url(660, 2.0, "mp3")
    track = track_for(url, "mp3", "mp3")
    first: list[bool] = []
    source = InProcessOpusAudio(
        OpusTranscoder(track, AudioOptions(bitrate_kbps=96)),
        on_first_packet=lambda: first.append(True),
    )
    # WHEN it is read to the end
    packets = read_all(source)
    # THEN about 100 packets of 20 ms come out (the last one padded), at 660 Hz, decodable
    assert 99 <= len(packets) <= 102
    assert frame_lengths(packets) == {960}
    assert abs(dominant_hz(packets) - 660) < 5
    assert first == [True]
    assert any(r.headers.get("User-Agent") == "musicbot-test" for r in tone_server.requests)


def test_the_bitrate_is_the_configured_one(tone_server: ToneServer) -> None:
    url = tone_server.url(660, 2.0, "mp3")
    low = transcode(url, AudioOptions(bitrate_kbps=32))
    high = transcode(url, AudioOptions(bitrate_kbps=128))
    kbps_low = sum(map(len, low)) * 8 / (len(low) * 0.02) / 1000
    kbps_high = sum(map(len, high)) * 8 / (len(high) * 0.02) / 1000
    assert 20 <= kbps_low <= 45  # a VBR target: a pure tone lands near it
    assert kbps_high > 2 * kbps_low


def test_the_encoder_takes_the_moderate_complexity(tone_server: ToneServer) -> None:
    # Encoding CPU is what limits transcoded streams per vCPU (bench/): complexity 5, not 10;
    # the option reaches libopus (the packets differ from complexity 10's)
    assert OPUS_COMPLEXITY == 5
    track = track_for(tone_server.url(660, 1.0, "mp3"), "mp3", "mp3")
    default = read_all(
        InProcessOpusAudio(OpusTranscoder(track, AudioOptions()), on_first_packet=lambda: None)
    )
    full = read_all(
        InProcessOpusAudio(
            OpusTranscoder(track, AudioOptions(), complexity=10), on_first_packet=lambda: None
        )
    )
    assert len(default) == len(full)
    assert default != full


def test_volume_scales_the_decoded_level(tone_server: ToneServer) -> None:
    url = tone_server.url(440, 2.0, "mp3")
    loud = rms(transcode(url, AudioOptions()))
    half = rms(transcode(url, AudioOptions(volume=0.5)))
    assert 0.4 <= half / loud <= 0.6


def test_opus_with_a_volume_is_decoded_and_encoded_again(tone_server: ToneServer) -> None:
    url = tone_server.url(440, 2.0, "webm")
    packets = transcode(url, AudioOptions(volume=0.5), codec="opus", fmt="webm")
    assert 99 <= len(packets) <= 102
    assert abs(dominant_hz(packets) - 440) < 5


def test_nightcore_plays_faster_and_higher(tone_server: ToneServer) -> None:
    # GIVEN 2 s at 440 Hz; WHEN played 1.25x faster THEN 1.6 s at 550 Hz come out
    packets = transcode(tone_server.url(440, 2.0, "mp3"), AudioOptions(preset="nightcore"))
    assert 78 <= len(packets) <= 83
    assert abs(dominant_hz(packets) - 550) < 6


@pytest.mark.parametrize("preset", sorted(set(PRESETS) - {"karaoke"}))
def test_every_preset_builds_and_plays(tone_server: ToneServer, preset: str) -> None:
    url = tone_server.url(440, 1.0, "mp3")
    plain = rms(transcode(url, AudioOptions()))
    packets = transcode(url, AudioOptions(preset=preset))
    assert len(packets) >= 35
    assert rms(packets) > plain / 4  # audible, not silence


def test_karaoke_cuts_what_is_mixed_to_the_centre(tone_server: ToneServer) -> None:
    # The tone is the same in both channels, like a lead vocal: karaoke takes it out
    url = tone_server.url(440, 1.0, "mp3")
    plain = rms(transcode(url, AudioOptions()))
    assert rms(transcode(url, AudioOptions(preset="karaoke"))) < plain / 10


def test_normalisation_brings_a_quiet_tone_up(tone_server: ToneServer) -> None:
    url = tone_server.url(440, 3.0, "mp3", gain_db=-20.0)
    quiet = rms(transcode(url, AudioOptions()))
    normalised = rms(transcode(url, AudioOptions(normalize=True)))
    assert normalised > 3 * quiet


def test_a_seek_starts_at_the_position_not_at_a_key_point(tone_server: ToneServer) -> None:
    # GIVEN 3 s of MP3; WHEN started at 2 s THEN about 1 s comes out (decoded audio before the
    # position is dropped, within one MP3 frame)
    packets = transcode(tone_server.url(440, 3.0, "mp3"), AudioOptions(start_s=2.0))
    assert 48 <= len(packets) <= 53


def test_a_missing_stream_is_unavailable_not_a_crash(tone_server: ToneServer) -> None:
    track = track_for(tone_server.missing_url(), "mp3", "mp3")
    with pytest.raises(DemuxUnavailable, match="cannot open"):
        OpusTranscoder(track, AudioOptions())


def test_non_http_input_is_refused_before_opening() -> None:
    track = track_for("https://cdn.example.com/a.mp3", "mp3", "mp3").model_copy(
        update={"stream_url": "file:///etc/passwd"}
    )
    with pytest.raises(ValueError, match="http"):
        OpusTranscoder(track, AudioOptions())


def test_encoding_waits_for_a_free_cpu_slot(tone_server: ToneServer) -> None:
    # GIVEN the worker's one CPU slot held by another reader
    slots = threading.BoundedSemaphore(1)
    track = track_for(tone_server.url(440, 1.0, "mp3"), "mp3", "mp3")
    transcoder = OpusTranscoder(track, AudioOptions(), cpu_slots=slots)
    slots.acquire()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(transcoder.read()))
    # WHEN a reader asks for a packet
    reader.start()
    reader.join(0.3)
    # THEN it waits for the slot, and encodes once it is free
    assert reader.is_alive() and not got
    slots.release()
    reader.join(WAIT_S)
    assert got and got[0]
    transcoder.close()
