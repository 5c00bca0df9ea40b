"""Playing one track at a time into a voice connection, behind a small interface.

Packets go out through discord.py's VoiceClient (DAVE and transport encryption stay on its send
path), paced by the worker's shared pacer (voice_worker/pacer.py) rather than a discord.py
player thread per guild. Audio is made in-process with PyAV (``InProcessOpusAudio``: no ffmpeg
process, about a tenth of the memory per stream and less CPU, see bench/): Opus
sources are demuxed and their packets copied, everything else (other codecs, /volume, presets,
normalisation, a seek) is decoded, filtered and encoded with libopus at the configured bitrate.
When that is not possible (or turned off), ``FFmpegOpusAudio`` runs one ffmpeg per playing guild
instead (never with ``from_probe``'s 512 kbps). The pacing and reader threads reach the event
loop only through ``call_soon_threadsafe`` / ``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from typing import Protocol

import discord
import structlog

from voice_worker.pacer import PacedStream, Pacer
from voice_worker.sources.demux import DemuxUnavailable, OpusDemuxer
from voice_worker.sources.ffmpeg import (
    AudioOptions,
    build_ffmpeg_argv,
    filter_chain,
    is_passthrough,
)
from voice_worker.sources.models import Track
from voice_worker.sources.transcode import OPUS_COMPLEXITY, OpusTranscoder

log = structlog.get_logger(__name__)

FFMPEG_NICENESS = 10  # see _lower_priority

TrackEnded = Callable[[int, Exception | None], None]
FirstPacket = Callable[[int], None]


class Player(Protocol):
    """Plays tracks into one guild's voice connection."""

    async def start(
        self,
        track: Track,
        *,
        start_at_s: float,
        generation: int,
        volume: float = 1.0,
        preset: str | None = None,
        normalize: bool = False,
    ) -> None:
        """Start ``track`` from ``start_at_s`` at ``volume`` (1.0 = as the source is) through
        a filter ``preset`` (sources.ffmpeg.PRESETS), loudness-normalised when ``normalize``;
        replaces whatever was playing."""

    def pause(self) -> None:
        """Pause (the ffmpeg process waits)."""

    def resume(self) -> None:
        """Continue after pause."""

    def stop(self) -> None:
        """Stop the current track (its end callback still fires, with its generation)."""

    @property
    def position_s(self) -> float:
        """Seconds into the current track."""

    @property
    def connected(self) -> bool:
        """Whether the voice connection is up."""


class _Clock:
    """Track position by wall time, minus paused stretches."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self._offset_s = offset_s
        self._started = time.monotonic()
        self._paused_at: float | None = None
        self._paused_total = 0.0

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += time.monotonic() - self._paused_at
            self._paused_at = None

    @property
    def position_s(self) -> float:
        now = self._paused_at if self._paused_at is not None else time.monotonic()
        return max(0.0, self._offset_s + now - self._started - self._paused_total)


def _lower_priority(process: object) -> None:
    """Run an ffmpeg child at a lower CPU priority than the worker.

    Its output is buffered (a pipe plus the pacer's second of read-ahead), so it can wait a few
    milliseconds; the pacing thread cannot. Without this, ffmpeg encoders waking in bursts on a
    small task took the CPU from the pacer right at its deadlines (bench/streams.py, transcode
    series). Raising a child's niceness needs no privilege.
    """
    if isinstance(process, subprocess.Popen):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, process.pid, FFMPEG_NICENESS)


class TimedOpusAudio(discord.FFmpegOpusAudio):
    """FFmpegOpusAudio that reports when its first packet is read (i.e. about to be sent)."""

    def __init__(
        self, source: str, *, on_first_packet: Callable[[], None], **kwargs: object
    ) -> None:
        if kwargs.get("codec") == "libopus":
            # discord.py 2.7 maps codec "libopus" to "copy" (only other values mean encode):
            # without this, a non-Opus source would be copied into Ogg and ffmpeg would fail.
            kwargs["codec"] = None
        super().__init__(source, **kwargs)  # type: ignore[arg-type]
        self._on_first_packet: Callable[[], None] | None = on_first_packet
        _lower_priority(getattr(self, "_process", None))

    def cleanup(self) -> None:
        """Kill ffmpeg and close its pipes (discord.py drops them unclosed: ResourceWarning)."""
        process: subprocess.Popen[bytes] | None = getattr(self, "_process", None)
        super().cleanup()
        if isinstance(process, subprocess.Popen):
            for pipe in (process.stdout, process.stderr, process.stdin):
                if pipe is not None:
                    pipe.close()

    def read(self) -> bytes:
        """Next Opus packet (player thread)."""
        packet = super().read()
        if packet and self._on_first_packet is not None:
            callback, self._on_first_packet = self._on_first_packet, None
            callback()
        return packet


class OpusPackets(Protocol):
    """Where in-process Opus packets come from: OpusDemuxer or OpusTranscoder (blocking)."""

    def read(self) -> bytes:
        """The next Opus packet, or b"" at the end."""
        ...

    def close(self) -> None:
        """Release the input."""
        ...


class InProcessOpusAudio(discord.AudioSource):
    """Opus packets made in-process (PyAV), handed to the pacer (or discord.py's player thread)."""

    def __init__(self, packets: OpusPackets, *, on_first_packet: Callable[[], None]) -> None:
        self._packets = packets
        self._on_first_packet: Callable[[], None] | None = on_first_packet

    def read(self) -> bytes:
        """Next Opus packet (player thread); b"" ends the track."""
        packet = self._packets.read()
        if packet and self._on_first_packet is not None:
            callback, self._on_first_packet = self._on_first_packet, None
            callback()
        return packet

    def is_opus(self) -> bool:
        """Already Opus: discord.py sends it without encoding."""
        return True

    def cleanup(self) -> None:
        """Close the input."""
        self._packets.close()


def opus_source_args(
    track: Track, options: AudioOptions, *, ffmpeg_path: str = "ffmpeg"
) -> dict[str, object]:
    """FFmpegOpusAudio's arguments, taking the input side from the sources' ffmpeg builder.

    Everything before ``-i`` (reconnect flags, protocol and format whitelists, headers, -ss)
    becomes ``before_options``; FFmpegOpusAudio adds the Ogg Opus output itself.
    """
    argv = build_ffmpeg_argv(track, options, ffmpeg_path=ffmpeg_path)
    before = argv[1 : argv.index("-i")]
    passthrough = is_passthrough(track, options)
    after = ["-map", "0:a:0", "-vn", "-sn", "-dn"]
    chain = filter_chain(options)
    if chain and not passthrough:
        after += ["-af", chain]
    if not passthrough:
        # The in-process encoder's complexity (sources/transcode.py says why).
        after += ["-compression_level", str(OPUS_COMPLEXITY)]
    return {
        "executable": argv[0],
        "codec": "copy" if passthrough else "libopus",
        "bitrate": options.bitrate_kbps,
        "before_options": shlex.join(before),
        "options": shlex.join(after),
    }


class VoiceClientPlayer:
    """A Player over a discord.py VoiceClient."""

    def __init__(
        self,
        voice: discord.VoiceClient,
        loop: asyncio.AbstractEventLoop,
        *,
        on_end: TrackEnded,
        on_first_packet: FirstPacket,
        bitrate_kbps: int,
        ffmpeg_path: str = "ffmpeg",
        audio_in_process: bool = True,
        pacer: Pacer | None = None,
    ) -> None:
        self._voice = voice
        self._audio_in_process = audio_in_process
        # With a pacer, the worker's pacing threads send the packets; without, discord.py's
        # player thread (one per guild) does.
        self._pacer = pacer
        self._stream: PacedStream | None = None
        self._loop = loop
        self._on_end = on_end
        self._on_first_packet = on_first_packet
        self._bitrate_kbps = bitrate_kbps
        self._ffmpeg_path = ffmpeg_path
        self._clock = _Clock()

    @property
    def voice(self) -> discord.VoiceClient:
        """The underlying voice connection."""
        return self._voice

    async def start(
        self,
        track: Track,
        *,
        start_at_s: float,
        generation: int,
        volume: float = 1.0,
        preset: str | None = None,
        normalize: bool = False,
    ) -> None:
        """Open the track (in-process, else ffmpeg) and hand it to the pacer (or to
        discord.py's player thread)."""
        # A volume other than 1.0, a preset, normalisation or a seek turns Opus passthrough off:
        # the audio is decoded, filtered and encoded again (sources/transcode.py).
        options = AudioOptions(
            start_s=start_at_s,
            volume=volume,
            preset=preset,
            bitrate_kbps=self._bitrate_kbps,
            normalize=normalize,
        )
        loop = self._loop

        def first_packet() -> None:  # player thread
            loop.call_soon_threadsafe(self._on_first_packet, generation)

        def after(error: Exception | None) -> None:  # player thread
            loop.call_soon_threadsafe(self._on_end, generation, error)

        source: discord.AudioSource | None = None
        if self._audio_in_process:
            source = await self._in_process(track, options, first_packet)
        if source is None:
            # Spawning ffmpeg is a fork/exec: keep it off the event loop.
            source = await asyncio.to_thread(
                functools.partial(
                    TimedOpusAudio,
                    track.stream_url,
                    on_first_packet=first_packet,
                    **opus_source_args(track, options, ffmpeg_path=self._ffmpeg_path),
                )
            )
        if self._pacer is not None:
            await self._start_paced(source, after)
        else:
            if self._voice.is_playing() or self._voice.is_paused():
                self._voice.stop()
            self._voice.play(source, after=after, signal_type="music")
        self._clock = _Clock(start_at_s)

    async def _start_paced(
        self, source: discord.AudioSource, after: Callable[[Exception | None], None]
    ) -> None:
        assert self._pacer is not None
        if self._stream is not None:
            self._stream.stop(replaced=True)
            self._stream = None
        voice = self._voice
        if not voice.is_connected():
            source.cleanup()
            raise discord.ClientException("Not connected to voice.")
        # "Speaking" before the first packet, as discord.py's player thread does.
        try:
            await voice.ws.speak(discord.SpeakingState.voice)
        except (OSError, discord.ClientException, discord.ConnectionClosed):
            source.cleanup()  # never leave an ffmpeg child behind
            raise discord.ClientException("Not connected to voice.") from None
        self._stream = PacedStream(voice, source, on_end=after)
        self._pacer.add(self._stream)

    async def _in_process(
        self, track: Track, options: AudioOptions, first_packet: Callable[[], None]
    ) -> InProcessOpusAudio | None:
        """The in-process Opus source, or None (logged) when ffmpeg must do it."""
        packets: OpusPackets
        try:
            # Opening reads the stream's head over the network: off the event loop.
            if is_passthrough(track, options):
                packets = await asyncio.to_thread(OpusDemuxer, track, start_s=options.start_s)
            else:
                slots = self._pacer.encode_slots if self._pacer is not None else None
                packets = await asyncio.to_thread(
                    functools.partial(OpusTranscoder, track, options, cpu_slots=slots)
                )
        except DemuxUnavailable as exc:
            log.info("player.in_process_fallback", reason=str(exc), host=track.stream_host)
            return None
        return InProcessOpusAudio(packets, on_first_packet=first_packet)

    def pause(self) -> None:
        """Pause the player thread (or this guild's stream in the pacer)."""
        if self._stream is not None:
            self._stream.pause()
        else:
            self._voice.pause()
        self._clock.pause()

    def resume(self) -> None:
        """Resume the player thread (or this guild's stream in the pacer)."""
        if self._stream is not None:
            self._stream.resume()
        else:
            self._voice.resume()
        self._clock.resume()

    def stop(self) -> None:
        """Stop playing; ``after`` is called from the player (or pacer) thread."""
        if self._stream is not None:
            self._stream.stop()
            self._stream = None
        else:
            self._voice.stop()

    @property
    def position_s(self) -> float:
        """Seconds into the current track (wall clock, pauses excluded)."""
        return self._clock.position_s

    @property
    def connected(self) -> bool:
        """Whether the voice connection is up."""
        return self._voice.is_connected()
