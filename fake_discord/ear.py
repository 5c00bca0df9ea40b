"""The listening ear: per-connection packet statistics and (lazy) audio analysis."""

from __future__ import annotations

import array
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fake_discord.opus import SAMPLE_RATE, OpusDecodeError, OpusDecoder

FRAME_SAMPLES = 960  # 20 ms
SILENCE_RMS = 100.0  # about -50 dBFS on int16
_FULL_SCALE = 32768.0
_SILENCE_DBFS = 20 * float(np.log10(SILENCE_RMS / _FULL_SCALE))
_ANALYSE_EVERY_SAMPLES = SAMPLE_RATE * 5  # bound memory: analyse pending audio every 5 s
_MIN_FREQUENCY_HZ = 20.0
_RECENT_SEQS = 1024
_MAX_GAPS_KEPT = 100
# Players stall while ffmpeg starts and then catch up in a burst: "steady" skips 1 s of packets.
_STEADY_AFTER = 50

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Segment:
    """A stretch of the stream with one dominant frequency (None: silence)."""

    start_s: float
    end_s: float
    frequency_hz: float | None

    @property
    def duration_s(self) -> float:
        """Length of the segment."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class EarReport:
    """What the ear heard on one voice connection (or since the last reset)."""

    guild_id: str
    ssrc: int
    mode: str | None
    packets: int
    duplicates: int
    lost: int
    out_of_order: int
    sequence_gaps: list[tuple[int, int]]  # (extended seq before the gap, packets missing)
    timestamp_jumps: int
    nonce_regressions: int
    decrypt_failures: int
    decode_failures: int
    packets_before_key: int
    packets_while_not_speaking: int
    ogg_header_packets: int
    audio_s: float
    silence_s: float
    audible_s: float
    dominant_frequency_hz: float | None
    timeline: list[Segment]
    interarrival_mean_ms: float | None
    interarrival_p99_abs_dev_ms: float | None
    interarrival_max_ms: float | None
    interarrival_p99_abs_dev_ms_steady: float | None  # without the first second
    first_packet_monotonic: float | None
    first_packet_wall: float | None
    last_packet_monotonic: float | None
    last_packet_wall: float | None
    # Loudness per analysis window: (start_s, end_s, RMS in dBFS), silent windows included.
    levels: list[tuple[float, float, float]] = field(default_factory=list)

    def level_dbfs(self, start_s: float, end_s: float) -> float | None:
        """Median loudness (dBFS) of the audible windows inside [start_s, end_s] of the stream."""
        inside = [
            db
            for begin, end, db in self.levels
            if begin >= start_s and end <= end_s and db > _SILENCE_DBFS
        ]
        return float(np.median(inside)) if inside else None

    def seconds_at(self, frequency_hz: float, tolerance_hz: float = 5.0) -> float:
        """Total duration of timeline segments within ``tolerance_hz`` of a frequency."""
        return sum(
            s.duration_s
            for s in self.timeline
            if s.frequency_hz is not None and abs(s.frequency_hz - frequency_hz) <= tolerance_hz
        )

    def audible_timeline(self, min_duration_s: float = 0.0) -> list[Segment]:
        """The timeline without silent segments (and without ones shorter than the minimum)."""
        return [
            s
            for s in self.timeline
            if s.frequency_hz is not None and s.duration_s >= min_duration_s
        ]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (segments gain a duration)."""
        data = asdict(self)
        data["timeline"] = [
            {**asdict(s), "duration_s": round(s.duration_s, 3)} for s in self.timeline
        ]
        return data


def _dominant_frequency(samples: FloatArray, hann: FloatArray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * hann))
    low_bin = int(_MIN_FREQUENCY_HZ * len(samples) / SAMPLE_RATE) + 1
    spectrum[:low_bin] = 0.0
    k = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < k < len(spectrum) - 1:
        # Parabolic interpolation on log magnitudes: sub-bin accuracy for a pure tone.
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denominator = a - 2 * b + c
        if denominator != 0:
            offset = float(0.5 * (a - c) / denominator)
    return (k + offset) * SAMPLE_RATE / len(samples)


def _same_tone(a: float, b: float) -> bool:
    return abs(a - b) <= max(3.0, 0.01 * max(a, b))


@dataclass
class _Window:
    start_s: float
    end_s: float
    frequency_hz: float | None
    rms: float = 0.0

    @property
    def dbfs(self) -> float:
        return round(20 * float(np.log10(max(self.rms, 1e-3) / _FULL_SCALE)), 2)


@dataclass
class _Analysis:
    windows: list[_Window] = field(default_factory=list)
    silent_samples: int = 0
    analysed_samples: int = 0


class Ear:
    """Listens to one SSRC: cheap bookkeeping per packet, FFTs only per window and lazily."""

    def __init__(
        self, guild_id: str, ssrc: int, decoder: OpusDecoder | None, window_s: float = 0.5
    ) -> None:
        self.guild_id = guild_id
        self.ssrc = ssrc
        self.mode: str | None = None
        self._decoder = decoder
        self._window = int(window_s * SAMPLE_RATE)
        self._hann: dict[int, FloatArray] = {}
        self.counters = dict.fromkeys(
            (
                "packets",
                "duplicates",
                "out_of_order",
                "timestamp_jumps",
                "nonce_regressions",
                "decrypt_failures",
                "decode_failures",
                "packets_before_key",
                "packets_while_not_speaking",
                "ogg_header_packets",
            ),
            0,
        )
        self._gaps: list[tuple[int, int]] = []
        self._first_ext: int | None = None
        self._max_ext = -1
        self._last_seq16 = 0
        self._last_ts = 0
        self._last_nonce = -1
        self._recent: set[int] = set()
        self._unique = 0
        self._arrivals = array.array("d")
        self._first_wall: float | None = None
        self._last_wall: float | None = None
        self._pending: list[npt.NDArray[np.int16]] = []
        self._pending_samples = 0
        self._decoded_samples = 0
        self._analysis = _Analysis()

    def count(self, counter: str) -> None:
        """Bump a counter (decrypt failures etc. are detected before the ear sees audio)."""
        self.counters[counter] += 1

    def on_packet(
        self, seq: int, timestamp: int, opus: bytes, *, nonce: int, speaking: bool, arrival: float
    ) -> None:
        """One decrypted packet (RTP header extension already removed), ``arrival`` monotonic."""
        self.counters["packets"] += 1
        if not speaking:
            self.counters["packets_while_not_speaking"] += 1
        if nonce <= self._last_nonce:
            self.counters["nonce_regressions"] += 1
        self._last_nonce = max(nonce, self._last_nonce)
        if not self._track_sequence(seq, timestamp):
            return
        self._arrivals.append(arrival)
        wall = arrival + (time.time() - time.monotonic())
        if self._first_wall is None:
            self._first_wall = wall
        self._last_wall = wall
        if opus[:8] in (b"OpusHead", b"OpusTags"):
            # discord.py's FFmpegOpusAudio sends the Ogg stream's two header packets as audio.
            self.counters["ogg_header_packets"] += 1
            return
        if self._decoder is None:
            self._decoded_samples += FRAME_SAMPLES  # not decoding: count Discord's 20 ms frames
            return
        try:
            pcm = self._decoder.decode(opus)
        except OpusDecodeError:
            self.counters["decode_failures"] += 1
            return
        mono = pcm.copy()  # the decoder reuses its buffer
        self._pending.append(mono)
        self._pending_samples += len(mono)
        self._decoded_samples += len(mono)
        if self._pending_samples >= _ANALYSE_EVERY_SAMPLES:
            self._analyse_complete_windows()

    def _track_sequence(self, seq: int, timestamp: int) -> bool:
        """Update loss/duplicate/order statistics; False for a duplicate."""
        if self._first_ext is None:
            self._first_ext = self._max_ext = seq
            self._last_seq16, self._last_ts = seq, timestamp
            self._recent.add(seq)
            self._unique = 1
            return True
        forward = (seq - self._last_seq16) & 0xFFFF
        if forward < 0x8000:
            ext = self._max_ext + forward
        else:
            ext = self._max_ext - ((self._last_seq16 - seq) & 0xFFFF)
        if ext in self._recent:
            self.counters["duplicates"] += 1
            return False
        self._recent.add(ext)
        self._unique += 1
        if ext > self._max_ext:
            if ext - self._max_ext > 1 and len(self._gaps) < _MAX_GAPS_KEPT:
                self._gaps.append((self._max_ext, ext - self._max_ext - 1))
            step = (timestamp - self._last_ts) & 0xFFFFFFFF
            if ext - self._max_ext == 1 and step != FRAME_SAMPLES:
                self.counters["timestamp_jumps"] += 1
            self._max_ext, self._last_seq16, self._last_ts = ext, seq, timestamp
        else:
            self.counters["out_of_order"] += 1
        if len(self._recent) > 2 * _RECENT_SEQS:
            floor = self._max_ext - _RECENT_SEQS
            self._recent = {s for s in self._recent if s > floor}
        return True

    # --- analysis -------------------------------------------------------------------------------
    def _hann_for(self, length: int) -> FloatArray:
        window = self._hann.get(length)
        if window is None:
            window = self._hann[length] = np.hanning(length)
        return window

    def _take_pending(self) -> npt.NDArray[np.int16]:
        if not self._pending:
            return np.zeros(0, dtype=np.int16)
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending = [joined]
        return joined

    def _analyse(self, samples: npt.NDArray[np.int16], start: int, into: _Analysis) -> None:
        """Analyse whole windows (and, for a report's tail, a final partial one)."""
        data = samples.astype(np.float64)
        frames = len(data) // FRAME_SAMPLES
        if frames:
            framed = data[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)
            rms = np.sqrt(np.mean(framed * framed, axis=1))
            into.silent_samples += int(np.count_nonzero(rms < SILENCE_RMS)) * FRAME_SAMPLES
        for offset in range(0, len(data), self._window):
            chunk = data[offset : offset + self._window]
            if len(chunk) < self._window // 2:
                break  # too short for a trustworthy frequency (the stream's last fragment)
            begin = (start + offset) / SAMPLE_RATE
            end = begin + len(chunk) / SAMPLE_RATE
            rms = float(np.sqrt(np.mean(chunk * chunk)))
            loud = rms >= SILENCE_RMS
            frequency = _dominant_frequency(chunk, self._hann_for(len(chunk))) if loud else None
            into.windows.append(_Window(begin, end, frequency, rms))
        into.analysed_samples += len(samples)

    def _analyse_complete_windows(self) -> None:
        pending = self._take_pending()
        whole = (len(pending) // self._window) * self._window
        if whole:
            self._analyse(pending[:whole], self._analysis.analysed_samples, self._analysis)
        rest = pending[whole:]
        self._pending = [rest] if len(rest) else []
        self._pending_samples = len(rest)

    def report(self) -> EarReport:
        """Analyse what is pending (FFT work happens here) and summarise."""
        self._analyse_complete_windows()
        tail = _Analysis()
        tail_samples = self._take_pending()
        if len(tail_samples):
            self._analyse(tail_samples, self._analysis.analysed_samples, tail)
        windows = self._analysis.windows + tail.windows
        timeline = _merge(windows)
        silent = self._analysis.silent_samples + tail.silent_samples
        audio_s = self._decoded_samples / SAMPLE_RATE
        arrivals = np.array(self._arrivals, dtype=np.float64)  # a copy: the array keeps growing
        gaps_ms = np.diff(arrivals) * 1000.0
        c = self.counters
        expected = 0 if self._first_ext is None else self._max_ext - self._first_ext + 1
        return EarReport(
            guild_id=self.guild_id,
            ssrc=self.ssrc,
            mode=self.mode,
            packets=c["packets"],
            duplicates=c["duplicates"],
            lost=max(0, expected - self._unique),
            out_of_order=c["out_of_order"],
            sequence_gaps=list(self._gaps),
            timestamp_jumps=c["timestamp_jumps"],
            nonce_regressions=c["nonce_regressions"],
            decrypt_failures=c["decrypt_failures"],
            decode_failures=c["decode_failures"],
            packets_before_key=c["packets_before_key"],
            packets_while_not_speaking=c["packets_while_not_speaking"],
            ogg_header_packets=c["ogg_header_packets"],
            audio_s=round(audio_s, 3),
            silence_s=round(silent / SAMPLE_RATE, 3),
            audible_s=round(audio_s - silent / SAMPLE_RATE, 3),
            dominant_frequency_hz=_overall_frequency(timeline),
            timeline=timeline,
            interarrival_mean_ms=float(gaps_ms.mean()) if len(gaps_ms) else None,
            interarrival_p99_abs_dev_ms=(
                float(np.percentile(np.abs(gaps_ms - 20.0), 99)) if len(gaps_ms) else None
            ),
            interarrival_max_ms=float(gaps_ms.max()) if len(gaps_ms) else None,
            interarrival_p99_abs_dev_ms_steady=(
                float(np.percentile(np.abs(gaps_ms[_STEADY_AFTER:] - 20.0), 99))
                if len(gaps_ms) > _STEADY_AFTER
                else None
            ),
            first_packet_monotonic=float(arrivals[0]) if len(arrivals) else None,
            first_packet_wall=self._first_wall,
            last_packet_monotonic=float(arrivals[-1]) if len(arrivals) else None,
            last_packet_wall=self._last_wall,
            levels=[(round(w.start_s, 3), round(w.end_s, 3), w.dbfs) for w in windows],
        )

    def close(self) -> None:
        """Release the decoder."""
        if self._decoder is not None:
            self._decoder.close()


def _merge(windows: list[_Window]) -> list[Segment]:
    segments: list[Segment] = []
    current: list[_Window] = []

    def flush() -> None:
        if current:
            freqs = [w.frequency_hz for w in current if w.frequency_hz is not None]
            frequency = round(sum(freqs) / len(freqs), 1) if freqs else None
            segments.append(
                Segment(round(current[0].start_s, 3), round(current[-1].end_s, 3), frequency)
            )

    for window in windows:
        if current:
            head = current[0].frequency_hz
            same = (head is None and window.frequency_hz is None) or (
                head is not None
                and window.frequency_hz is not None
                and _same_tone(head, window.frequency_hz)
            )
            if not same:
                flush()
                current = []
        current.append(window)
    flush()
    return segments


def _overall_frequency(timeline: list[Segment]) -> float | None:
    clusters: list[tuple[float, float]] = []  # (weighted frequency sum, duration)
    for segment in timeline:
        if segment.frequency_hz is None:
            continue
        for index, (weighted, duration) in enumerate(clusters):
            if _same_tone(weighted / duration, segment.frequency_hz):
                clusters[index] = (
                    weighted + segment.frequency_hz * segment.duration_s,
                    duration + segment.duration_s,
                )
                break
        else:
            clusters.append((segment.frequency_hz * segment.duration_s, segment.duration_s))
    if not clusters:
        return None
    weighted, duration = max(clusters, key=lambda c: c[1])
    return round(weighted / duration, 1)
