"""The shared pacer's bookkeeping: what each stream sends, when it ends, and who is told.

The voice client here only records what it was asked to send (its send path, encryption
included, is discord.py's and is exercised against the fake Discord by tests/e2e); these tests
wait on events, never on durations.
"""

from __future__ import annotations

import threading

import pytest
from discord.opus import OPUS_SILENCE

from voice_worker.pacer import SILENCE_FRAMES, PacedStream, Pacer, TickStats

WAIT_S = 10.0


class RecordingVoice:
    """Stands in for discord.VoiceClient: connected, records packets, no websocket."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.connected = True
        self.ws = None

    def is_connected(self) -> bool:
        return self.connected

    def send_audio_packet(self, data: bytes, *, encode: bool) -> None:
        assert encode is False
        self.sent.append(data)


class Packets:
    """A source of numbered packets; can fail after some, or block until released."""

    def __init__(self, count: int, *, fail_after: int | None = None) -> None:
        self.count = count
        self.fail_after = fail_after
        self.read_count = 0
        self.cleaned = threading.Event()

    def read(self) -> bytes:
        if self.fail_after is not None and self.read_count >= self.fail_after:
            raise OSError("connection reset")
        if self.read_count >= self.count:
            return b""
        self.read_count += 1
        return b"pkt%d" % self.read_count

    def cleanup(self) -> None:
        self.cleaned.set()


class Ended:
    def __init__(self) -> None:
        self.calls: list[Exception | None] = []
        self.event = threading.Event()

    def __call__(self, error: Exception | None) -> None:
        self.calls.append(error)
        self.event.set()


def stream(voice: RecordingVoice, source: Packets, ended: Ended) -> PacedStream:
    paced = PacedStream(voice, source, on_end=ended)  # type: ignore[arg-type]
    paced._speak = lambda state: None  # type: ignore[method-assign]  # no event loop here
    return paced


@pytest.fixture
def pacer() -> Pacer:
    return Pacer(frame_s=0.001)  # fast ticks: these tests check order, not timing


def test_every_packet_is_sent_in_order_then_silence_and_one_end(pacer: Pacer) -> None:
    voice, source, ended = RecordingVoice(), Packets(120), Ended()
    pacer.add(stream(voice, source, ended))
    assert ended.event.wait(WAIT_S)
    assert voice.sent[:120] == [b"pkt%d" % i for i in range(1, 121)]
    assert voice.sent[120:] == [OPUS_SILENCE] * SILENCE_FRAMES
    assert ended.calls == [None]
    assert source.cleaned.wait(WAIT_S)


def test_streams_are_independent_and_the_thread_stops_when_idle(pacer: Pacer) -> None:
    voices = [RecordingVoice() for _ in range(3)]
    ends = [Ended() for _ in range(3)]
    for index, (voice, end) in enumerate(zip(voices, ends, strict=True)):
        pacer.add(stream(voice, Packets(10 * (index + 1)), end))
    for end in ends:
        assert end.event.wait(WAIT_S)
    assert [len(v.sent) for v in voices] == [10 + 5, 20 + 5, 30 + 5]
    # the pacing thread exits with its last stream (checked by adding a new one: it restarts)
    voice, end = RecordingVoice(), Ended()
    pacer.add(stream(voice, Packets(3), end))
    assert end.event.wait(WAIT_S)
    assert pacer.streams == 0


def test_a_read_error_ends_the_track_with_that_error(pacer: Pacer) -> None:
    voice, ended = RecordingVoice(), Ended()
    pacer.add(stream(voice, Packets(100, fail_after=7), ended))
    assert ended.event.wait(WAIT_S)
    assert voice.sent[:7] == [b"pkt%d" % i for i in range(1, 8)]
    assert len(ended.calls) == 1
    assert isinstance(ended.calls[0], OSError)


def test_a_replaced_track_ends_quietly(pacer: Pacer) -> None:
    # GIVEN a long track playing
    voice, ended = RecordingVoice(), Ended()
    paced = stream(voice, Packets(10_000), ended)
    pacer.add(paced)
    # WHEN another track replaces it
    paced.stop(replaced=True)
    assert ended.event.wait(WAIT_S)
    # THEN its end is reported once, without end-of-track silence
    assert ended.calls == [None]
    assert OPUS_SILENCE not in voice.sent


def test_pause_sends_silence_then_nothing_until_resume(pacer: Pacer) -> None:
    voice, ended = RecordingVoice(), Ended()
    paced = stream(voice, Packets(10_000), ended)
    paced.pause()  # paused before its first tick: nothing but the pause silence goes out
    pacer.add(paced)
    # the pause's silence frames are sent once, then nothing while paused
    while len(voice.sent) < SILENCE_FRAMES:
        threading.Event().wait(0.01)
    threading.Event().wait(0.05)
    assert voice.sent == [OPUS_SILENCE] * SILENCE_FRAMES
    paced.resume()
    while len(voice.sent) < SILENCE_FRAMES + 3:
        threading.Event().wait(0.01)
    assert voice.sent[SILENCE_FRAMES : SILENCE_FRAMES + 3] == [b"pkt1", b"pkt2", b"pkt3"]
    paced.stop()
    assert ended.event.wait(WAIT_S)


def test_nothing_is_sent_while_disconnected(pacer: Pacer) -> None:
    voice, ended = RecordingVoice(), Ended()
    voice.connected = False
    paced = stream(voice, Packets(50), ended)
    pacer.add(paced)
    threading.Event().wait(0.05)
    assert voice.sent == []
    paced.stop()
    assert ended.event.wait(WAIT_S)
    assert ended.calls == [None]


def test_streams_are_spread_over_lanes_of_bounded_size() -> None:
    pacer = Pacer(frame_s=0.001, lane_size=16)
    gate = threading.Event()

    class Held(Packets):
        def read(self) -> bytes:
            gate.wait(WAIT_S)  # hold every stream open until all are added
            return super().read()

    ends = [Ended() for _ in range(40)]
    for end in ends:
        pacer.add(stream(RecordingVoice(), Held(5), end))
    assert pacer.streams == 40
    assert pacer.threads == 3  # 16 + 16 + 8
    gate.set()
    for end in ends:
        assert end.event.wait(WAIT_S)
    while pacer.threads:
        threading.Event().wait(0.01)
    assert pacer.streams == 0


def test_every_tick_is_counted_by_how_late_it_woke(pacer: Pacer) -> None:
    voice, ended = RecordingVoice(), Ended()
    pacer.add(stream(voice, Packets(60), ended))
    assert ended.event.wait(WAIT_S)
    figures = pacer.stats.as_dict()
    # one tick per packet at least (the last ticks send silence and end the stream)
    assert figures["ticks"] >= 60
    assert sum(figures["late"].values()) == figures["ticks"]


def test_tick_lateness_lands_in_its_bucket() -> None:
    stats = TickStats()
    for late_s in (0.0, 0.0015, 0.004, 0.0099, 0.05):
        stats.record(late_s, send_s=0.001)
    figures = stats.as_dict()
    assert figures["late"] == {
        "<1ms": 1,
        "<2ms": 1,
        "<5ms": 1,
        "<10ms": 1,
        "<20ms": 0,
        ">=20ms": 1,
    }
    assert figures["max_late_ms"] == 50.0
    assert figures["max_send_ms"] == 1.0


def test_send_time_lands_in_its_bucket() -> None:
    stats = TickStats()
    for send_s in (0.0005, 0.003, 0.025):
        stats.record(0.0, send_s=send_s)
    assert stats.as_dict()["send"] == {
        "<1ms": 1,
        "<2ms": 0,
        "<5ms": 1,
        "<10ms": 0,
        "<20ms": 0,
        ">=20ms": 1,
    }


def test_a_tick_with_nothing_read_yet_is_counted_as_an_underrun(pacer: Pacer) -> None:
    # GIVEN a stream whose source delivers nothing until released (a slow read)
    release = threading.Event()

    class Slow(Packets):
        def read(self) -> bytes:
            release.wait(WAIT_S)
            return super().read()

    voice, ended = RecordingVoice(), Ended()
    pacer.add(stream(voice, Slow(5), ended))
    # WHEN ticks pass with its buffer empty
    while pacer.stats.ticks < 20:
        threading.Event().wait(0.005)
    # THEN each is an underrun; once the source delivers, the stream plays out and ends
    assert pacer.stats.underruns >= 15
    release.set()
    assert ended.event.wait(WAIT_S)
    assert voice.sent[:5] == [b"pkt1", b"pkt2", b"pkt3", b"pkt4", b"pkt5"]
    assert pacer.report()["underruns"] == pacer.stats.underruns


def test_a_paused_stream_is_not_an_underrun(pacer: Pacer) -> None:
    voice, ended = RecordingVoice(), Ended()
    release = threading.Event()

    class Slow(Packets):
        def read(self) -> bytes:
            release.wait(WAIT_S)
            return super().read()

    paced = stream(voice, Slow(5), ended)
    paced.pause()
    pacer.add(paced)
    while pacer.stats.ticks < 20:
        threading.Event().wait(0.005)
    assert pacer.stats.underruns == 0
    release.set()
    paced.resume()
    assert ended.event.wait(WAIT_S)


class ClosingLoop:
    """An event loop that closed between the pacer's check and its call (shutdown)."""

    def is_running(self) -> bool:
        return True

    def call_soon_threadsafe(self, *args: object) -> None:
        raise RuntimeError("Event loop is closed")


class SpeakingWebSocket:
    def __init__(self) -> None:
        self.calls = 0

    async def speak(self, state: object) -> None:
        self.calls += 1


def test_a_track_ending_while_the_loop_closes_ends_cleanly(pacer: Pacer) -> None:
    # GIVEN a voice client whose event loop is closing (the worker shutting down)
    voice, ended = RecordingVoice(), Ended()
    voice.ws = SpeakingWebSocket()  # type: ignore[assignment]
    voice.client = type("Client", (), {"loop": ClosingLoop()})()  # type: ignore[attr-defined]
    paced = PacedStream(voice, Packets(3), on_end=ended)  # type: ignore[arg-type]
    # WHEN its track ends and the pacer tells the gateway it stopped speaking
    pacer.add(paced)
    assert ended.event.wait(WAIT_S)
    # THEN the end is a clean one, not a failed stream
    assert ended.calls == [None]
