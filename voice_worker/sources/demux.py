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
_RECONNECT = {"reconnect": "1", "reconnect_streamed": "1", "reconnect_delay_max": "5"}


class DemuxUnavailable(Exception):
    """The source can't be demuxed in-process (no PyAV, not Opus, open failed): use ffmpeg."""


def avformat_options(track: Track) -> dict[str, str]:
    """libavformat options for ``track``: the ffmpeg argv's input options, as a dict."""
    args = input_args(track.stream_url, track.http_headers, is_manifest=track.is_manifest)
    options = {name.lstrip("-"): value for name, value in zip(args[::2], args[1::2], strict=True)}
    return {**_RECONNECT, **options}


class OpusDemuxer:
    """Opus packets of a track's first audio stream, one per ``read()``; blocking."""

    def __init__(self, track: Track, *, start_s: float = 0.0) -> None:
        try:
            import av  # noqa: PLC0415 - optional: without PyAV the worker spawns ffmpeg
        except ImportError as exc:
            raise DemuxUnavailable("PyAV is not installed") from exc
        self._errors: tuple[type[Exception], ...] = (av.FFmpegError, OSError)
        try:
            self._container: Any = av.open(
                track.stream_url,
                options=avformat_options(track),
                timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except (av.FFmpegError, OSError) as exc:
            raise DemuxUnavailable(f"cannot open the stream: {type(exc).__name__}") from None
        try:
            stream = next(s for s in self._container.streams if s.type == "audio")
            if stream.codec_context.name != "opus":
                raise DemuxUnavailable(f"not Opus: {stream.codec_context.name}")
            if start_s > 0 and not track.is_live and stream.time_base:
                self._container.seek(int(start_s / stream.time_base), stream=stream)
        except StopIteration:
            self.close()
            raise DemuxUnavailable("no audio stream") from None
        except DemuxUnavailable:
            self.close()
            raise
        except (av.FFmpegError, OSError) as exc:
            self.close()
            raise DemuxUnavailable(f"cannot seek: {type(exc).__name__}") from None
        self._packets: Iterator[Any] = self._container.demux(stream)

    def read(self) -> bytes:
        """The next Opus packet, or b"" at the end; network errors propagate."""
        for packet in self._packets:
            if packet.size:  # the demuxer ends with an empty flush packet
                return bytes(packet)
        return b""

    def close(self) -> None:
        """Close the input (idempotent)."""
        with contextlib.suppress(*self._errors):
            self._container.close()
