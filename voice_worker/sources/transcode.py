"""Encoding to Opus without an ffmpeg process: decode, filter and encode in-process with PyAV.

A source that is not Opus, or that needs /volume, a preset, normalisation or a seek, must be
decoded and encoded again. An ffmpeg child per guild did that at 12-14 ms of CPU per second
of audio and ~12 MB (PSS) per stream; the same libavcodec/libavfilter/libopus work in-process
costs 8-11 ms (no pipe, no Ogg muxing and parsing, no process to schedule) and ~1.6 MB
(bench/streams.py, ``ours_transcode`` against ``ours_ffmpeg_transcode``). PyAV releases the
GIL inside the codecs and the filter graph, so the pacing thread keeps its deadlines while
reader threads encode; their Python glue takes turns through the pacer's ``encode_slots``.

The filter chain is the one the ffmpeg argv would get (``filter_chain``: fixed presets and
numbers we format), then 48 kHz stereo s16 in 960-sample frames (20 ms) for libopus.

Everything here blocks (network I/O, codecs): open in a thread, read from a reader thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from fractions import Fraction
from typing import Any

from voice_worker.sources.demux import AudioInput, DemuxUnavailable
from voice_worker.sources.ffmpeg import AudioOptions, filter_chain
from voice_worker.sources.models import Track

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz: one Opus packet per pacer tick
# libopus complexity 5 instead of 10: about a third less encoding CPU (120 s of MP3 to Opus
# at 96 kbps: 0.75 instead of 1.08 CPU seconds), no audible difference at streaming bitrates;
# encoding is what limits transcoded streams per vCPU.
OPUS_COMPLEXITY = 5
# What libopus takes; asetnsamples pads the last frame with silence (p=1).
_TO_OPUS = (
    f"aformat=sample_fmts=s16:sample_rates={SAMPLE_RATE}:channel_layouts=stereo",
    f"asetnsamples=n={FRAME_SAMPLES}:p=1",
)


class OpusTranscoder:
    """Opus packets of a track's first audio stream, decoded, filtered and encoded again;
    one per ``read()``; blocking."""

    def __init__(
        self,
        track: Track,
        options: AudioOptions,
        *,
        complexity: int = OPUS_COMPLEXITY,
        cpu_slots: threading.Semaphore | None = None,
    ) -> None:
        # Held while decoding, filtering and encoding (not while reading the network): the
        # worker's readers share a slot per core, see Pacer.encode_slots.
        self._cpu_slots: contextlib.AbstractContextManager[Any] = (
            cpu_slots if cpu_slots is not None else contextlib.nullcontext()
        )
        self._input = AudioInput(track, start_s=options.start_s)
        av = self._input.av
        self._av = av
        # A key point at or before the position was sought: decoded audio before it is dropped.
        self._skip_before_s = options.start_s if not track.is_live else 0.0
        self._filters = [*filter(None, (filter_chain(options) or "").split(",")), *_TO_OPUS]
        self._graph: Any = None
        self._graph_key: tuple[str, int, str] | None = None
        self._decoder = self._input.stream.codec_context
        self._packets = self._input.packets()
        self._ready: deque[bytes] = deque()
        self._samples_in = self._samples_out = 0
        self._ended = False
        try:
            self._encoder: Any = av.CodecContext.create("libopus", "w")
            self._encoder.sample_rate = SAMPLE_RATE
            self._encoder.layout = "stereo"
            self._encoder.format = "s16"
            self._encoder.time_base = Fraction(1, SAMPLE_RATE)
            self._encoder.bit_rate = options.bitrate_kbps * 1000
            self._encoder.options = {"compression_level": str(complexity)}
            self._encoder.open()
        except (av.FFmpegError, ValueError) as exc:
            self._input.close()
            raise DemuxUnavailable(f"no libopus encoder: {type(exc).__name__}") from None

    def read(self) -> bytes:
        """The next Opus packet, or b"" at the end; network errors propagate."""
        while not self._ready:
            if self._ended:
                return b""
            self._advance()
        return self._ready.popleft()

    def close(self) -> None:
        """Close the input (idempotent)."""
        self._input.close()

    def _advance(self) -> None:
        """Decode one more packet of the source (or flush everything at its end)."""
        packet = next(self._packets, None)
        with self._cpu_slots:
            if packet is None:
                self._finish()
                return
            try:
                frames = self._decoder.decode(packet)
            except self._av.InvalidDataError:
                return  # a damaged packet: skip it, as ffmpeg does, rather than end the track
            for frame in frames:
                self._filter(frame)

    def _filter(self, frame: Any) -> None:
        if self._skip_before_s and frame.time is not None:
            if frame.time + frame.samples / frame.sample_rate <= self._skip_before_s:
                return
            self._skip_before_s = 0.0
        key = (frame.format.name, frame.sample_rate, frame.layout.name)
        if key != self._graph_key:  # first frame, or the source changed its format mid-way
            self._graph, self._graph_key = self._build_graph(frame), key
            self._samples_in = 0
        # Timestamps counted in samples: gaps or jumps in the source's own don't reach the filters.
        frame.pts = self._samples_in
        self._samples_in += frame.samples
        self._graph.push(frame)
        self._drain_graph()

    def _build_graph(self, frame: Any) -> Any:
        graph = self._av.filter.Graph()
        node = graph.add_abuffer(
            format=frame.format.name,
            sample_rate=frame.sample_rate,
            layout=frame.layout.name,
            time_base=Fraction(1, frame.sample_rate),
        )
        for spec in self._filters:
            name, _, args = spec.partition("=")
            following = graph.add(name, args or None)
            node.link_to(following)
            node = following
        node.link_to(graph.add("abuffersink"))
        graph.configure()
        return graph

    def _drain_graph(self) -> None:
        while True:
            try:
                frame = self._graph.pull()
            except (self._av.BlockingIOError, self._av.EOFError):
                return
            frame.pts = self._samples_out
            self._samples_out += frame.samples
            self._encode(frame)

    def _encode(self, frame: Any) -> None:
        self._ready.extend(bytes(packet) for packet in self._encoder.encode(frame) if packet.size)

    def _finish(self) -> None:
        self._ended = True
        # The demuxer's last packet is an empty one, which flushed the decoder already.
        if self._graph is not None:
            self._graph.push(None)
            self._drain_graph()
        self._encode(None)
