"""Opus passthrough without an ffmpeg process: demux the source in-process with PyAV.

An ffmpeg child per playing guild costs ~11 MB (PSS) and a process; copying Opus packets out
of WebM/Ogg needs no codec at all, only libavformat, which PyAV loads once per worker. The
input is opened with the same safety options as the ffmpeg argv (protocol and format
whitelists, no redirects, the resolver's headers) plus ffmpeg's reconnect flags.

Everything here blocks (network I/O): open in a thread, read from the player thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from voice_worker.sources.ffmpeg import input_args
from voice_worker.sources.models import Track

OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 15.0
# ffmpeg's reconnect flags; and keep-alive: the libavformat PyAV bundles (62.x) fails a seek
# that needs a new range request after a "Connection: close" one (EOFError, no request sent),
# where a kept-alive connection sends it (an MP3 resumed at its position).
_HTTP = {
    "reconnect": "1",
    "reconnect_streamed": "1",
    "reconnect_delay_max": "5",
    "multiple_requests": "1",
}


class DemuxUnavailable(Exception):
    """The source can't be played in-process (no PyAV, not Opus, open failed): use ffmpeg."""


def avformat_options(track: Track) -> dict[str, str]:
    """libavformat options for ``track``: the ffmpeg argv's input options, as a dict."""
    args = input_args(track.stream_url, track.http_headers, is_manifest=track.is_manifest)
    options = {name.lstrip("-"): value for name, value in zip(args[::2], args[1::2], strict=True)}
    return {**_HTTP, **options}


class AudioInput:
    """A track's input opened with PyAV: its first audio stream, seeked to ``start_s``.

    Raises DemuxUnavailable when PyAV is missing or the input can't be opened or seeked.
    """

    def __init__(self, track: Track, *, start_s: float = 0.0) -> None:
        try:
            import av  # noqa: PLC0415 - optional: without PyAV the worker spawns ffmpeg
        except ImportError as exc:
            raise DemuxUnavailable("PyAV is not installed") from exc
        self.av: Any = av
        self.errors: tuple[type[Exception], ...] = (av.FFmpegError, OSError)
        try:
            self.container: Any = av.open(
                track.stream_url,
                options=avformat_options(track),
                timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except (av.FFmpegError, OSError) as exc:
            raise DemuxUnavailable(f"cannot open the stream: {type(exc).__name__}") from None
        try:
            self.stream: Any = next(s for s in self.container.streams if s.type == "audio")
            if start_s > 0 and not track.is_live and self.stream.time_base:
                # To the key point at or before start_s: a decoder trims the rest itself.
                self.container.seek(int(start_s / self.stream.time_base), stream=self.stream)
        except StopIteration:
            self.close()
            raise DemuxUnavailable("no audio stream") from None
        except (av.FFmpegError, OSError) as exc:
            self.close()
            raise DemuxUnavailable(f"cannot seek: {type(exc).__name__}") from None

    @property
    def codec_name(self) -> str:
        """The audio stream's codec, as libavcodec names it ("opus", "mp3", ...)."""
        return str(self.stream.codec_context.name)

    def packets(self) -> Iterator[Any]:
        """The audio stream's packets, in order (blocking reads)."""
        return iter(self.container.demux(self.stream))

    def close(self) -> None:
        """Close the input (idempotent)."""
        with contextlib.suppress(*self.errors):
            self.container.close()


class OpusDemuxer:
    """Opus packets of a track's first audio stream, one per ``read()``; blocking."""

    def __init__(self, track: Track, *, start_s: float = 0.0) -> None:
        self._input = AudioInput(track, start_s=start_s)
        if self._input.codec_name != "opus":
            self._input.close()
            raise DemuxUnavailable(f"not Opus: {self._input.codec_name}")
        self._packets = self._input.packets()

    def read(self) -> bytes:
        """The next Opus packet, or b"" at the end; network errors propagate."""
        for packet in self._packets:
            if packet.size:  # the demuxer ends with an empty flush packet
                return bytes(packet)
        return b""

    def close(self) -> None:
        """Close the input (idempotent)."""
        self._input.close()
