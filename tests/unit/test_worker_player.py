"""FFmpegOpusAudio's arguments: copy Opus, encode the rest at our bitrate, seek, reconnect."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

from voice_worker.player import opus_source_args
from voice_worker.sources import AudioOptions, Track


def track(codec: str, container: str) -> Track:
    return Track(
        title="t",
        webpage_url="https://example.com/t",
        stream_url="https://cdn.example.com/t?sig=secret",
        codec=codec,
        container=container,
        http_headers={"User-Agent": "ua"},
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def test_opus_in_webm_is_passed_through() -> None:
    args = opus_source_args(track("opus", "webm"), AudioOptions(bitrate_kbps=96))
    assert args["codec"] == "copy"
    before = shlex.split(str(args["before_options"]))
    assert "-reconnect" in before and "-i" not in before
    assert "-headers" in before


def test_other_codecs_are_encoded_at_the_configured_bitrate_not_512k() -> None:
    args = opus_source_args(track("aac", "m4a"), AudioOptions(bitrate_kbps=96))
    assert args["codec"] == "libopus"
    assert args["bitrate"] == 96


def test_resume_position_seeks_the_input() -> None:
    args = opus_source_args(track("opus", "webm"), AudioOptions(start_s=42.5))
    before = shlex.split(str(args["before_options"]))
    assert before[before.index("-ss") + 1] == "42.500"


def test_only_the_first_audio_stream_is_taken() -> None:
    args = opus_source_args(track("opus", "webm"), AudioOptions())
    assert shlex.split(str(args["options"]))[:2] == ["-map", "0:a:0"]
