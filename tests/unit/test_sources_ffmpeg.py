"""The ffmpeg argv: passthrough vs transcode, seeking, headers, and no user text as options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from voice_worker.sources.ffmpeg import (
    PRESETS,
    AudioOptions,
    build_ffmpeg_argv,
    filter_chain,
    headers_arg,
    is_passthrough,
)
from voice_worker.sources.models import Track
from voice_worker.sources.probe import build_ffprobe_argv, parse_ffprobe_json


def make_track(**overrides: object) -> Track:
    fields: dict[str, object] = {
        "title": "t",
        "webpage_url": "https://example.com/watch",
        "stream_url": "https://cdn.example.com/a.webm?sig=x",
        "codec": "opus",
        "container": "webm",
        "protocol": "https",
        "http_headers": {"User-Agent": "UA/1.0", "Referer": "https://example.com/"},
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
    }
    fields.update(overrides)
    return Track.model_validate(fields)


def value_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_opus_source_is_copied_without_filters() -> None:
    argv = build_ffmpeg_argv(make_track())
    assert value_after(argv, "-c:a") == "copy"
    assert "-af" not in argv and "libopus" not in argv
    assert argv[-3:] == ["-f", "opus", "pipe:1"]
    assert argv[2:5] == ["-nostdin", "-loglevel", "warning"]
    for flag, value in (("-reconnect", "1"), ("-reconnect_streamed", "1")):
        assert value_after(argv, flag) == value
    assert value_after(argv, "-reconnect_delay_max") == "5"


def test_other_codecs_are_encoded_to_opus() -> None:
    argv = build_ffmpeg_argv(make_track(codec="mp3", container="mp3"))
    assert value_after(argv, "-c:a") == "libopus"
    assert value_after(argv, "-b:a") == "128k"
    assert value_after(argv, "-ar") == "48000"
    assert value_after(argv, "-ac") == "2"


def test_volume_or_preset_forces_transcode_with_filters() -> None:
    argv = build_ffmpeg_argv(make_track(), AudioOptions(volume=0.5, preset="bassboost"))
    assert value_after(argv, "-c:a") == "libopus"
    assert value_after(argv, "-af") == f"{PRESETS['bassboost']},volume=0.500"
    assert filter_chain(AudioOptions()) is None


def test_url_follows_i_and_seek_comes_before_it() -> None:
    track = make_track()
    argv = build_ffmpeg_argv(track, AudioOptions(start_s=42.5))
    i = argv.index("-i")
    assert argv[i + 1] == track.stream_url
    assert argv.index("-ss") < i and value_after(argv, "-ss") == "42.500"
    assert argv.count(track.stream_url) == 1
    assert "-ss" not in build_ffmpeg_argv(make_track(is_live=True), AudioOptions(start_s=5))


def test_a_seek_re_encodes_an_opus_source_so_it_starts_at_the_position() -> None:
    track = make_track()
    assert is_passthrough(track, AudioOptions())
    argv = build_ffmpeg_argv(track, AudioOptions(start_s=12.0))
    assert not is_passthrough(track, AudioOptions(start_s=12.0))
    assert value_after(argv, "-c:a") == "libopus"


def test_input_is_locked_down() -> None:
    argv = build_ffmpeg_argv(make_track())
    assert value_after(argv, "-protocol_whitelist") == "http,https,tcp,tls"
    assert "hls" not in value_after(argv, "-format_whitelist")
    assert value_after(argv, "-max_redirects") == "0"
    manifest = build_ffmpeg_argv(make_track(protocol="m3u8_native"))
    assert value_after(manifest, "-format_whitelist").startswith("hls,")


def test_headers_are_crlf_joined_and_injection_dropped() -> None:
    argv = build_ffmpeg_argv(make_track())
    assert (
        value_after(argv, "-headers") == "User-Agent: UA/1.0\r\nReferer: https://example.com/\r\n"
    )
    assert headers_arg({"X-Evil": "a\r\nHost: 169.254.169.254", "Bad Name": "x"}) is None
    assert "-headers" not in build_ffmpeg_argv(make_track(http_headers={}))


@pytest.mark.parametrize("url", ["-i", "-f lavfi", "file:///etc/passwd", "concat:a|b"])
def test_non_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        build_ffmpeg_argv(make_track(stream_url=url))


@pytest.mark.parametrize(
    "kwargs",
    [{"volume": 2.5}, {"volume": -1}, {"start_s": -1}, {"preset": "rm -rf"}, {"bitrate_kbps": 4}],
)
def test_options_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AudioOptions(**kwargs)  # type: ignore[arg-type]


def test_ffprobe_argv_shares_the_input_lockdown() -> None:
    argv = build_ffprobe_argv("https://cdn.example.com/a", {}, is_manifest=False)
    assert argv[-2:] == ["-i", "https://cdn.example.com/a"]
    assert value_after(argv, "-max_redirects") == "0"


def test_parse_ffprobe_json() -> None:
    raw = (
        b'{"streams":[{"codec_name":"opus"}],'
        b'"format":{"format_name":"matroska,webm","duration":"3.01"}}'
    )
    result = parse_ffprobe_json(raw)
    assert (result.codec, result.container, result.duration_s) == ("opus", "webm", 3.01)
