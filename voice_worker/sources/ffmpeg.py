"""ffmpeg argv for streaming a Track as Ogg Opus on stdout (pure: builds lists, runs nothing).

User text never reaches this argv: the URL was validated by the SSRF guard and goes right after
``-i``; filters come from a fixed preset table; numbers are validated and formatted by us.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from voice_worker.sources.models import Track

MAX_VOLUME: Final = 2.0
PROTOCOL_WHITELIST: Final = "http,https,tcp,tls"
# Demuxers ffmpeg may pick for a plain file. Keeping out hls/concat/etc. stops a hostile server
# from serving a playlist that makes ffmpeg fetch other (unchecked) URLs.
FILE_FORMATS: Final = "matroska,webm,ogg,mp3,mov,mp4,m4a,3gp,3g2,mj2,aac,flac,wav"
MANIFEST_FORMATS: Final = f"hls,mpegts,dash,{FILE_FORMATS}"

# Named filter chains a user may pick by name (the name is looked up, never interpolated).
PRESETS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "bassboost": "bass=g=8:f=110:w=0.6",
        "nightcore": "asetrate=48000*1.25,aresample=48000",
        "vaporwave": "asetrate=48000*0.8,aresample=48000",
        # Vocals are usually mixed to the centre: cut the mid (L+R) signal, keep the sides.
        "karaoke": "stereotools=mlev=0.015625",
        # The sound circling the listener's head: stereo panned by a slow (8 s) sine.
        "8d": "apulsator=hz=0.125",
    }
)
# Loudness normalisation (a guild setting, not a preset): EBU R128 single pass, aiming at
# -16 LUFS (streaming loudness) with peaks under -1.5 dBTP. loudnorm works at 192 kHz inside:
# back to 48 kHz before anything else. Chosen over dynaudnorm (docs/commands.md): it costs
# ~0.1 s more to first audio from a file, where dynaudnorm's defaults cost 16 s on a live
# stream, and dynaudnorm's 20 dB gain cap leaves a quiet track quiet.
LOUDNESS_FILTER: Final = "loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000"

# Give up on an http(s) input that sends nothing for this long (each reconnect waits again).
STALL_TIMEOUT_S = 10.0
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class AudioOptions:
    """How to play: where to start, how loud, which preset, the Opus bitrate when encoding,
    and whether to normalise loudness."""

    start_s: float = 0.0
    volume: float = 1.0
    preset: str | None = None
    bitrate_kbps: int = 128
    normalize: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.start_s < 7 * 24 * 3600:
            raise ValueError(f"start_s out of range: {self.start_s}")
        if not 0.0 <= self.volume <= MAX_VOLUME:
            raise ValueError(f"volume must be within 0..{MAX_VOLUME}: {self.volume}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {sorted(PRESETS)}")
        if not 8 <= self.bitrate_kbps <= 510:
            raise ValueError(f"bitrate_kbps must be within 8..510: {self.bitrate_kbps}")

    @property
    def has_filters(self) -> bool:
        """True when the audio must be decoded (volume, preset or normalisation)."""
        return self.volume != 1.0 or self.preset is not None or self.normalize


def filter_chain(options: AudioOptions) -> str | None:
    """The ``-af`` value for ``options``, or ``None`` when no filter is needed."""
    filters = []
    if options.preset is not None:
        filters.append(PRESETS[options.preset])
    if options.normalize:
        # Before the volume: normalising after it would undo what /volume asked for.
        filters.append(LOUDNESS_FILTER)
    if options.volume != 1.0:
        filters.append(f"volume={options.volume:.3f}")
    return ",".join(filters) or None


def is_passthrough(track: Track, options: AudioOptions) -> bool:
    """True when the Opus stream can be copied: Opus source, nothing to filter, no seek.

    A seek (resuming after a takeover) needs decoding: with stream copy ffmpeg starts at the
    container's seek point before the position (often the file's start), not at it.
    """
    return track.is_opus_passthrough and not options.has_filters and options.start_s == 0


def headers_arg(headers: Mapping[str, str]) -> str | None:
    """ffmpeg's ``-headers`` value (CRLF-separated); headers that could inject lines are dropped."""
    lines = [
        f"{name}: {value}\r\n"
        for name, value in headers.items()
        if _HEADER_NAME.match(name) and not _HEADER_VALUE_FORBIDDEN.search(value)
    ]
    return "".join(lines) or None


def input_args(url: str, headers: Mapping[str, str], *, is_manifest: bool) -> list[str]:
    """Options that go before ``-i`` for any http(s) input (shared with ffprobe)."""
    guard_url(url)
    args = [
        "-protocol_whitelist",
        PROTOCOL_WHITELIST,
        "-format_whitelist",
        MANIFEST_FORMATS if is_manifest else FILE_FORMATS,
        # Redirects were followed and checked by the resolver; ffmpeg must not follow new ones.
        "-max_redirects",
        "0",
        # A source that stalls mid-stream: without a read timeout ffmpeg waits forever and the
        # guild's queue never moves on (tests/faults/test_source_faults.py). Microseconds.
        "-rw_timeout",
        str(int(STALL_TIMEOUT_S * 1_000_000)),
    ]
    header_value = headers_arg(headers)
    if header_value:
        args += ["-headers", header_value]
    return args


def build_ffmpeg_argv(
    track: Track, options: AudioOptions | None = None, *, ffmpeg_path: str = "ffmpeg"
) -> list[str]:
    """argv streaming ``track`` as Ogg Opus to stdout: copy when possible, else libopus."""
    options = options or AudioOptions()
    argv = [ffmpeg_path, "-hide_banner", "-nostdin", "-loglevel", "warning"]
    argv += ["-reconnect", "1", "-reconnect_streamed", "1", "-reconnect_delay_max", "5"]
    argv += input_args(track.stream_url, track.http_headers, is_manifest=track.is_manifest)
    if options.start_s > 0 and not track.is_live:
        argv += ["-ss", f"{options.start_s:.3f}"]  # before -i: seek the input, don't decode to it
    argv += ["-i", track.stream_url, "-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1"]
    if is_passthrough(track, options):
        argv += ["-c:a", "copy"]
    else:
        argv += ["-c:a", "libopus", "-b:a", f"{options.bitrate_kbps}k", "-ar", "48000", "-ac", "2"]
        chain = filter_chain(options)
        if chain:
            argv += ["-af", chain]
    argv += ["-f", "opus", "pipe:1"]
    return argv


def guard_url(url: str) -> None:
    """Refuse anything but an http(s) URL (already validated; this is defence in depth)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("ffmpeg input must be an http(s) URL")
