"""The pacer's read pool: reads leave the pacing thread, and a stalled read holds up no other.

These tests wait on events, never on durations (one checks that a read came after a given
instant, which no slowness can break).
"""

from __future__ import annotations

import threading
import time

from voice_worker.pacer import PacedStream, Pacer
from voice_worker.read_pool import ReadPool
from voice_worker.tick_gate import TickGate

WAIT_S = 10.0


def test_a_stalled_task_does_not_hold_up_the_next() -> None:
    # stall_s=0: any task still running when another is queued counts as stalled
    pool = ReadPool(stall_s=0.0)
    started, gate, second_done = threading.Event(), threading.Event(), threading.Event()

    def stalled() -> None:
        started.set()
        gate.wait(WAIT_S)

    pool.submit(stalled)
    assert started.wait(WAIT_S)
    pool.submit(second_done.set)
    assert second_done.wait(WAIT_S)  # ran while the first still blocks
    assert not gate.is_set()
    assert pool.workers == 2
    gate.set()


def test_tasks_run_in_order_on_one_worker_when_nothing_stalls() -> None:
    pool = ReadPool(stall_s=WAIT_S)
    gate, done = threading.Event(), threading.Event()
    order: list[int] = []
    pool.submit(lambda: gate.wait(WAIT_S))
    for index in range(5):
        pool.submit(lambda index=index: order.append(index))  # type: ignore[misc]
    pool.submit(done.set)
    gate.set()
    assert done.wait(WAIT_S)
    assert order == [0, 1, 2, 3, 4]
    assert pool.workers == 1


def test_a_failing_task_leaves_the_worker_running() -> None:
    pool = ReadPool()
    done = threading.Event()

    def broken() -> None:
        raise RuntimeError("boom")

    pool.submit(broken)
    pool.submit(done.set)
    assert done.wait(WAIT_S)


class _Voice:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.ws = None

    def is_connected(self) -> bool:
        return True

    def send_audio_packet(self, data: bytes, *, encode: bool) -> None:
        self.sent.append(data)


class _ThreadRecordingSource:
    """Packets; remembers which threads read them and whether cleanup ran."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reads = 0
        self.readers: set[str] = set()
        self.cleaned = threading.Event()
        self.first_read_at: float | None = None

    def read(self) -> bytes:
        self.readers.add(threading.current_thread().name)
        if self.first_read_at is None:
            self.first_read_at = time.perf_counter()
        if self.reads >= self.count:
            return b""
        self.reads += 1
        return b"p%d" % self.reads

    def cleanup(self) -> None:
        self.cleaned.set()


def test_streams_are_read_by_the_pool_never_by_the_pacing_thread() -> None:
    pacer = Pacer(frame_s=0.001)
    sources = [_ThreadRecordingSource(120) for _ in range(8)]
    voices = [_Voice() for _ in sources]
    ends = [threading.Event() for _ in sources]
    for voice, source, end in zip(voices, sources, ends, strict=True):
        paced = PacedStream(voice, source, on_end=lambda _e, end=end: end.set())  # type: ignore[arg-type,misc]
        paced._speak = lambda state: None  # type: ignore[method-assign]  # no event loop here
        pacer.add(paced)
    for end, source, voice in zip(ends, sources, voices, strict=True):
        assert end.wait(WAIT_S)
        assert source.cleaned.wait(WAIT_S)
        assert voice.sent[:120] == [b"p%d" % i for i in range(1, 121)]
        assert source.readers == {"audio-reader"}


def test_a_stopped_stream_is_cleaned_up_once_even_while_a_read_blocks() -> None:
    pacer = Pacer(frame_s=0.001)
    reading, gate = threading.Event(), threading.Event()
    cleanups: list[int] = []
    ended = threading.Event()

    class Blocking:
        def read(self) -> bytes:
            reading.set()
            gate.wait(WAIT_S)
            return b"late"

        def cleanup(self) -> None:
            cleanups.append(1)

    paced = PacedStream(_Voice(), Blocking(), on_end=lambda _e: ended.set())  # type: ignore[arg-type]
    paced._speak = lambda state: None  # type: ignore[method-assign]
    pacer.add(paced)
    assert reading.wait(WAIT_S)
    paced.stop()
    assert ended.wait(WAIT_S)  # the end is reported without waiting for the read
    assert cleanups == []  # the source is still being read: not closed under the reader
    gate.set()
    while not cleanups:
        threading.Event().wait(0.01)
    threading.Event().wait(0.05)
    assert cleanups == [1]


def test_idle_workers_beyond_the_last_one_exit_and_the_pool_still_works() -> None:
    pool = ReadPool(stall_s=0.0, idle_exit_s=0.01)
    gate = threading.Event()
    started = [threading.Event() for _ in range(3)]

    def held(event: threading.Event) -> None:
        event.set()
        gate.wait(WAIT_S)

    for event in started:
        pool.submit(lambda event=event: held(event), urgent=True)  # type: ignore[misc]
    for event in started:
        assert event.wait(WAIT_S)
    assert pool.workers == 3
    gate.set()
    while pool.workers > 1:
        threading.Event().wait(0.01)
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(WAIT_S)
    assert pool.workers == 1


def test_a_refill_waits_while_the_pacer_sends() -> None:
    # GIVEN the pacer's sending lock held (a tick's sends in progress)
    pool, gate = ReadPool(), TickGate()
    gate.sending.acquire()
    source = _ThreadRecordingSource(3)
    paced = PacedStream(_Voice(), source, on_end=lambda _e: None)  # type: ignore[arg-type]
    # WHEN the stream starts reading
    paced.attach(pool, gate)
    # THEN nothing is read until the sends are over
    threading.Event().wait(0.05)
    assert source.reads == 0
    gate.sending.release()
    assert source.cleaned.wait(WAIT_S)  # read to the end (3 packets), then cleaned up
    assert source.reads == 3


def test_a_refill_sleeps_through_a_tick_that_is_close() -> None:
    # GIVEN a pacing thread whose next tick is due in 50 ms, inside the readers' quiet window
    pool, gate = ReadPool(), TickGate(quiet_s=0.5)
    tick_at = time.perf_counter() + 0.05
    gate.next_tick(1, tick_at)
    source = _ThreadRecordingSource(3)
    paced = PacedStream(_Voice(), source, on_end=lambda _e: None)  # type: ignore[arg-type]
    # WHEN the stream starts reading
    started = time.perf_counter()
    paced.attach(pool, gate)
    assert source.cleaned.wait(WAIT_S)
    # THEN its first read came after the tick, not in the window before it
    assert source.first_read_at is not None
    assert started < tick_at <= source.first_read_at
