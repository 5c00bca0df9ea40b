"""A few pacing threads for every playing guild of a worker, instead of a thread per guild.

discord.py's ``AudioPlayer`` is a thread per voice connection that wakes every 20 ms; with
hundreds of guilds those wake-ups (and the GIL hand-offs between them) cost more than sending
the packets. Here a pacing thread per lane of up to 16 streams ticks every 20 ms on an absolute
schedule and sends the next Opus packet of each of its streams through
``VoiceClient.send_audio_packet``: discord.py's own send path, so DAVE and transport
encryption, sequence numbers and timestamps stay exactly as they were.

Reading is never done on the pacing thread: each stream has a reader thread that keeps a small
buffer of packets filled (it blocks on the network or on ffmpeg's pipe, and sleeps while the
buffer is full). A stream whose buffer runs dry just misses that tick; the others are not held
up. A lane's thread starts with its first stream and exits when its last one ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

import discord
import structlog
from discord.opus import OPUS_SILENCE

log = structlog.get_logger(__name__)

FRAME_S: Final = 0.02
BUFFER_PACKETS: Final = 50  # 1 s of audio read ahead
REFILL_BELOW: Final = 25  # wake the reader once half the buffer is spent, not per packet
SILENCE_FRAMES: Final = 5  # sent at a track's end and on pause, as discord.py does
LANE_SIZE: Final = 16  # streams per pacing thread (see Pacer)
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
        self._wake = threading.Condition()
        self._exhausted = False
        self._error: Exception | None = None
        self._stopped = False
        self._quiet = False
        self._ended = False
        self.paused = False
        self._silence_due = 0
        self._reader = threading.Thread(target=self._read_ahead, daemon=True, name="audio-reader")

    def start_reading(self) -> None:
        """Start the reader thread."""
        self._reader.start()

    def _read_ahead(self) -> None:
        try:
            while True:
                with self._wake:
                    while len(self._buffer) >= REFILL_BELOW and not self._stopped:
                        self._wake.wait()
                    if self._stopped:
                        return
                    wanted = BUFFER_PACKETS - len(self._buffer)
                for _ in range(wanted):
                    if self.stopped:  # stop() runs on another thread meanwhile
                        return
                    packet = self._source.read()
                    if not packet:
                        self._exhausted = True
                        return
                    self._buffer.append(packet)
        except Exception as exc:  # noqa: BLE001 - the reader's boundary: the track ends with it
            self._error = exc
            self._exhausted = True
        finally:
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
        with self._wake:
            self._stopped = True
            self._quiet = self._quiet or replaced
            self._wake.notify()

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
            if len(self._buffer) == REFILL_BELOW - 1:
                with self._wake:
                    self._wake.notify()
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
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if not self._quiet and self.voice.is_connected():
            self._send_silence()
            self._speak(discord.SpeakingState.none)
        self._on_end(self._error)

    def _speak(self, state: discord.SpeakingState) -> None:
        ws = self.voice.ws
        loop = self.voice.client.loop
        if ws is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(ws.speak(state), loop)


class _Lane:
    """One pacing thread and the streams it sends for."""

    def __init__(self) -> None:
        self.streams: list[PacedStream] = []
        self.thread: threading.Thread | None = None


class Pacer:
    """The worker's pacing threads; streams join with ``add`` and leave when they end.

    Streams are spread over lanes of at most ``lane_size``, a thread each: every ``sendto``
    releases the GIL, and a thread that must win it back once per packet delays each packet
    after it in the same tick, so one thread for hundreds of streams jitters the last ones.
    A lane of a few dozen keeps that bounded; it is still a thread per lane, not per guild.
    """

    def __init__(self, *, frame_s: float = FRAME_S, lane_size: int = LANE_SIZE) -> None:
        self._frame_s = frame_s
        self._lane_size = lane_size
        self._lanes: list[_Lane] = []
        self._lock = threading.Lock()

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

    def add(self, stream: PacedStream) -> None:
        """Start sending ``stream`` at the next tick (starting a lane's thread if needed)."""
        stream.start_reading()
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
        start = time.perf_counter()
        ticks = 0
        while True:
            with self._lock:
                streams = list(lane.streams)
                if not streams:
                    lane.thread = None
                    self._lanes.remove(lane)
                    return
            ended = []
            for stream in streams:
                try:
                    alive = stream.tick()
                except Exception as exc:  # one broken stream must not silence the others
                    log.exception("pacer.stream_failed")
                    stream.fail(exc)
                    alive = False
                if not alive:
                    ended.append(stream)
            if ended:
                with self._lock:
                    lane.streams = [s for s in lane.streams if s not in ended]
            ticks += 1
            delay = start + ticks * self._frame_s - time.perf_counter()
            if delay < -_MAX_LATE_S:
                start, ticks = time.perf_counter(), 0
            elif delay > 0:
                time.sleep(delay)
