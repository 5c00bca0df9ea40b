"""A minimal ctypes binding to libopus' decoder, writing into a reused numpy buffer."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48_000
# libopus downmixes a stereo stream itself when the decoder is mono: cheaper than decoding two
# channels and averaging them with numpy, and one channel is all the analysis needs.
CHANNELS = 1
_MAX_FRAME_SAMPLES = 5760  # 120 ms at 48 kHz, the longest Opus packet


class OpusDecodeError(Exception):
    """libopus refused a packet."""


class OpusLibrary:
    """A loaded libopus with the decoder prototypes declared."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        lib.opus_decoder_create.argtypes = [
            ctypes.c_int32,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
        ]
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decode.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_int16),
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_decoder_destroy.restype = None

    @classmethod
    def load(cls) -> OpusLibrary:
        """Find and load libopus (blocking: ``find_library`` may run ldconfig)."""
        name = ctypes.util.find_library("opus") or "libopus.so.0"
        return cls(ctypes.CDLL(name))


class OpusDecoder:
    """A 48 kHz mono decoder; :meth:`decode` returns a view valid until the next call."""

    def __init__(self, library: OpusLibrary) -> None:
        self._lib = library.lib
        err = ctypes.c_int()
        self._state = self._lib.opus_decoder_create(SAMPLE_RATE, CHANNELS, ctypes.byref(err))
        if err.value != 0 or not self._state:
            raise OpusDecodeError(f"opus_decoder_create failed ({err.value})")
        self._pcm: npt.NDArray[np.int16] = np.zeros(_MAX_FRAME_SAMPLES * CHANNELS, dtype=np.int16)
        self._pcm_ptr = self._pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))

    def decode(self, packet: bytes) -> npt.NDArray[np.int16]:
        """Mono int16 samples of one packet (stereo streams are downmixed by libopus)."""
        if self._state is None:
            raise OpusDecodeError("decoder is closed")
        samples = self._lib.opus_decode(
            self._state, packet, len(packet), self._pcm_ptr, _MAX_FRAME_SAMPLES, 0
        )
        if samples < 0:
            raise OpusDecodeError(f"opus_decode failed ({samples})")
        return self._pcm[: samples * CHANNELS]

    def close(self) -> None:
        """Free the decoder."""
        if self._state is not None:
            self._lib.opus_decoder_destroy(self._state)
            self._state = None
