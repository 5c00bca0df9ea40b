"""One pacing thread for every playing guild of a worker, instead of a thread per guild.

discord.py's ``AudioPlayer`` is a thread per voice connection that wakes every 20 ms; with
hundreds of guilds those wake-ups (and the GIL hand-offs between them) cost more than sending
the packets. Here one pacing thread (per lane of up to ``LANE_SIZE`` streams) ticks every 20 ms
on an absolute schedule and sends the next Opus packet of each of its streams, in a fixed order,
through ``VoiceClient.send_audio_packet``: discord.py's own send path, so DAVE and transport
encryption, sequence numbers and timestamps stay exactly as they were.

Reading is never done on the pacing thread: each stream keeps a small buffer of packets, and
after each tick's sends the pacer hands the refills that are due to a small shared pool of
reader threads (voice_worker/read_pool.py), which read in small chunks while the pacer sleeps.
A thread per stream reading half a second in a burst whenever it liked (measured: bench/)
took the GIL in the middle of other streams' sends. A stream whose buffer runs dry just misses
that tick; the others are not held up. A lane's thread starts with its first stream and exits
when its last one ends.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol

import discord
import structlog
from discord.opus import OPUS_SILENCE

from voice_worker.read_pool import ReadPool
from voice_worker.tick_gate import TickGate

log = structlog.get_logger(__name__)

FRAME_S: Final = 0.02
BUFFER_PACKETS: Final = 50  # 1 s of audio read ahead
# Refill in small steady chunks (10 packets, every 200 ms), not half a second's burst at once.
REFILL_BELOW: Final = 40
SILENCE_FRAMES: Final = 5  # sent at a track's end and on pause, as discord.py does
LANE_SIZE: Final = 256  # streams per pacing thread (see Pacer): ~25 us of sending each
_MAX_LATE_S: Final = 0.2  # further behind than this (a stall): restart the schedule, no burst


class PacketSource(Protocol):
    """An Opus source: ``read()`` blocks and returns b"" at the end; ``cleanup()`` closes it."""

    def read(self) -> bytes:
        """Next Opus packet."""

    def cleanup(self) -> None:
        """Release the source (ffmpeg process, network input)."""


class PacedStream:
    """One guild's current track in the pacer."""

    def __init__(
        self,
        voice: discord.VoiceClient,
        source: PacketSource,
        *,
        on_end: Callable[[Exception | None], None],
    ) -> None:
        self.voice = voice
        self._source = source
        self._on_end = on_end
        self._buffer: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._exhausted = False
        self._error: Exception | None = None
        self._stopped = False
        self._quiet = False
        self._ended = False
        self._refilling = False
        self._cleaned = False
        self.paused = False
        self._silence_due = 0
        self._pool: ReadPool | None = None
        self._gate: TickGate | None = None  # the pacer's: reads keep clear of its ticks
        self._stats: TickStats | None = None  # the pacer's: counts this stream's missed ticks

    def wants_refill(self) -> bool:
        """Whether a refill should be queued now (pacer thread, after the tick's sends)."""
        if self._refilling or self._exhausted or self._stopped:
            return False
        if len(self._buffer) >= REFILL_BELOW:
            return False
        with self._lock:
            self._refilling = True  # cleared by the refill
        return True

    def refill(self) -> None:
        """Read until the buffer is full, the source ends or the track stops (read pool)."""
        try:
            gate = self._gate
            while len(self._buffer) < BUFFER_PACKETS and not self._stopped:
                if gate is not None:
                    # Keep clear of the pacer's ticks: a read's Python part (Ogg parsing,
                    # packet objects) would otherwise hold the GIL when the pacer wakes, and
                    # take it each time a send lets it go.
                    gate.wait_turn()
                packet = self._source.read()
                if not packet:
                    self._exhausted = True
                    break
                self._buffer.append(packet)
        except Exception as exc:  # noqa: BLE001 - the reader's boundary: the track ends with it
            self._error = exc
            self._exhausted = True
        with self._lock:
            self._refilling = False
            done = (self._exhausted or self._stopped) and not self._cleaned
            self._cleaned = self._cleaned or done
        if done:
            self._source.cleanup()

    def attach(
        self, pool: ReadPool, gate: TickGate | None = None, stats: TickStats | None = None
    ) -> None:
        """Read through ``pool`` (the pacer's), keeping clear of ``gate``'s ticks, counting
        missed ticks in ``stats``; the first refill starts now."""
        self._pool = pool
        self._gate = gate
        self._stats = stats
        if self.wants_refill():
            pool.submit(self.refill, urgent=True)

    def _release(self) -> None:
        """Clean the source up (on the pool: killing ffmpeg waits for it) unless a refill still
        reads it; that refill does it then."""
        with self._lock:
            done = not self._refilling and not self._cleaned
            self._cleaned = self._cleaned or done
        if done:
            if self._pool is not None:
                self._pool.submit(self._source.cleanup)
            else:
                self._source.cleanup()

    @property
    def stopped(self) -> bool:
        """Whether the track was stopped or has ended."""
        return self._stopped

    def stop(self, *, replaced: bool = False) -> None:
        """End the track at the next tick (``on_end`` still fires).

        ``replaced``: another track of this guild starts right away, so no end-of-track
        silence or "not speaking" (which could arrive after the new track's "speaking").
        """
        self._quiet = self._quiet or replaced
        self._stopped = True  # a refill under way stops after its current read

    def fail(self, error: Exception) -> None:
        """End the track now with ``error`` (pacer thread, after ``tick`` raised)."""
        self._error = error
        self._finish()

    def pause(self) -> None:
        """Stop sending (silence frames first); reading stays ahead."""
        if not self.paused:
            self.paused = True
            self._silence_due = SILENCE_FRAMES

    def resume(self) -> None:
        """Send again from the next tick."""
        self.paused = False

    def tick(self) -> bool:
        """Send this stream's packet for the current tick (pacer thread); False when it ended."""
        voice = self.voice
        if self._silence_due and voice.is_connected():
            self._silence_due = 0
            self._send_silence()
        if self._stopped or (self._exhausted and not self._buffer):
            self._finish()
            return False
        if self.paused or not voice.is_connected():
            return True  # a voice reconnect or a pause: keep the place
        if self._buffer:
            voice.send_audio_packet(self._buffer.popleft(), encode=False)
        elif self._stats is not None and not self._exhausted:
            self._stats.underruns += 1  # the reads fell behind: this tick is heard as a gap
        return True

    def _send_silence(self) -> None:
        try:
            for _ in range(SILENCE_FRAMES):
                self.voice.send_audio_packet(OPUS_SILENCE, encode=False)
        except (OSError, discord.ClientException):
            pass  # the connection went away meanwhile: nothing to be quiet on

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._stopped = True
        self._release()
        if not self._quiet and self.voice.is_connected():
            self._send_silence()
            self._speak(discord.SpeakingState.none)
        self._on_end(self._error)

    def _speak(self, state: discord.SpeakingState) -> None:
        ws = self.voice.ws
        loop = self.voice.client.loop
        if ws is None or not loop.is_running():
            return
        speak = ws.speak(state)
        try:
            asyncio.run_coroutine_threadsafe(speak, loop)
        except RuntimeError:  # the loop closed since the check (shutdown): nobody to tell
            speak.close()


# Upper bounds (ms) of the buckets a tick's lateness is counted in; the last is open-ended.
LATE_BUCKETS_MS: Final = (1.0, 2.0, 5.0, 10.0, 20.0)


class TickStats:
    """How late the pacing threads woke, how long their sends took, and ticks with no packet.

    For /health and bench/: a stream's pacing at the listener is its lane's wake-up lateness
    plus its place in the tick's sends, so these say whether a late packet was the scheduler
    (late wake-ups), the sends (long ticks) or the reads (underruns: a playing stream's buffer
    was empty). Written under the pacer's send lock, so lanes take turns; read without it.
    """

    def __init__(self) -> None:
        self.ticks = 0
        self.late_counts = [0] * (len(LATE_BUCKETS_MS) + 1)
        self.send_counts = [0] * (len(LATE_BUCKETS_MS) + 1)
        self.underruns = 0
        self.max_late_ms = 0.0
        self.max_send_ms = 0.0
        self.stalls = 0  # schedule restarted after falling more than _MAX_LATE_S behind

    def record(self, late_s: float, send_s: float) -> None:
        """One tick: woke ``late_s`` after its deadline, sent for ``send_s``."""
        late_ms, send_ms = late_s * 1000, send_s * 1000
        self.ticks += 1
        self.late_counts[_bucket(late_ms)] += 1
        self.send_counts[_bucket(send_ms)] += 1
        self.max_late_ms = max(self.max_late_ms, late_ms)
        self.max_send_ms = max(self.max_send_ms, send_ms)

    def as_dict(self) -> dict[str, Any]:
        """Plain figures for JSON (cumulative since the worker started)."""
        labels = [f"<{bound:g}ms" for bound in LATE_BUCKETS_MS] + [f">={LATE_BUCKETS_MS[-1]:g}ms"]
        return {
            "ticks": self.ticks,
            "late": dict(zip(labels, self.late_counts, strict=True)),
            "send": dict(zip(labels, self.send_counts, strict=True)),
            "underruns": self.underruns,
            "max_late_ms": round(self.max_late_ms, 2),
            "max_send_ms": round(self.max_send_ms, 2),
            "stalls": self.stalls,
        }


def _cores() -> int:
    """CPUs this process may run on (a container's share, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _bucket(ms: float) -> int:
    bucket = 0
    while bucket < len(LATE_BUCKETS_MS) and ms >= LATE_BUCKETS_MS[bucket]:
        bucket += 1
    return bucket


class _Lane:
    """One pacing thread and the streams it sends for."""

    def __init__(self) -> None:
        self.streams: list[PacedStream] = []
        self.thread: threading.Thread | None = None


class Pacer:
    """The worker's pacing thread(s); streams join with ``add`` and leave when they end.

    One thread sends for up to ``lane_size`` streams, in the same order every tick, so each
    stream's packet leaves at the same offset into the tick and the gaps between its packets
    stay 20 ms. Refills are handed to the read pool only after the tick's sends, so reads run
    between ticks instead of taking the GIL in the middle of them.
    """

    def __init__(
        self,
        *,
        frame_s: float = FRAME_S,
        lane_size: int = LANE_SIZE,
        pool: ReadPool | None = None,
    ) -> None:
        self._frame_s = frame_s
        self._lane_size = lane_size
        self._lanes: list[_Lane] = []
        self._lock = threading.Lock()
        self._pool = pool or ReadPool()
        # Its lock is held while a lane sends, and readers keep clear of the ticks (tick_gate.py).
        # One for all lanes: past one lane their sends take turns, as the GIL makes them anyway.
        self._gate = TickGate()
        self.stats = TickStats()
        # Readers that decode and encode (sources/transcode.py) take one of these while they
        # do: a thread per transcoded stream all wanting the GIL at once made its hand-overs
        # thrash (bench/: at 50 streams 1.4 cores instead of 0.45, sends over 20 ms).
        self.encode_slots = threading.BoundedSemaphore(_cores())

    @property
    def streams(self) -> int:
        """How many streams are in the pacer (playing or paused)."""
        with self._lock:
            return sum(len(lane.streams) for lane in self._lanes)

    @property
    def threads(self) -> int:
        """How many pacing threads run."""
        with self._lock:
            return sum(1 for lane in self._lanes if lane.thread is not None)

    def report(self) -> dict[str, Any]:
        """Tick figures, and how many streams, pacing threads and reader threads there are."""
        return {
            **self.stats.as_dict(),
            "streams": self.streams,
            "threads": self.threads,
            "readers": self._pool.workers,
        }

    def add(self, stream: PacedStream) -> None:
        """Start sending ``stream`` at the next tick (starting a lane's thread if needed)."""
        stream.attach(self._pool, self._gate, self.stats)
        with self._lock:
            open_lanes = [lane for lane in self._lanes if len(lane.streams) < self._lane_size]
            if open_lanes:
                lane = min(open_lanes, key=lambda candidate: len(candidate.streams))
            else:
                lane = _Lane()
                self._lanes.append(lane)
            lane.streams.append(stream)
            if lane.thread is None:
                lane.thread = threading.Thread(
                    target=self._run, args=(lane,), daemon=True, name="audio-pacer"
                )
                lane.thread.start()

    def _run(self, lane: _Lane) -> None:
        pool, gate = self._pool, self._gate
        frame_s = self._frame_s
        stats = self.stats
        lane_key = id(lane)
        deadline = time.perf_counter()
        while True:
            woke = time.perf_counter()
            with self._lock:
                streams = list(lane.streams)
                if not streams:
                    lane.thread = None
                    self._lanes.remove(lane)
                    gate.lane_stopped(lane_key)
                    return
            ended = []
            with gate.sending:
                for stream in streams:
                    try:
                        alive = stream.tick()
                    except Exception as exc:  # one broken stream must not silence the others
                        log.exception("pacer.stream_failed")
                        stream.fail(exc)
                        alive = False
                    if not alive:
                        ended.append(stream)
                stats.record(max(0.0, woke - deadline), time.perf_counter() - woke)
            if ended:
                with self._lock:
                    lane.streams = [s for s in lane.streams if s not in ended]
            deadline += frame_s
            delay = deadline - time.perf_counter()
            if delay < -_MAX_LATE_S:
                deadline = time.perf_counter()  # a stall: restart the schedule, no burst
                with gate.sending:
                    stats.stalls += 1
            gate.next_tick(lane_key, deadline)
            # Reads after the sends, handed over in one batch (one wake-up, not one per
            # stream): the pool works while this thread sleeps, until the next tick is close.
            due = [stream.refill for stream in streams if stream.wants_refill()]
            if due:
                pool.submit_all(due)
            delay = deadline - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
