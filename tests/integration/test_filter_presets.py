"""Filter presets do to real audio what their names promise (ffmpeg run for real)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from voice_worker.sources.ffmpeg import PRESETS

RATE = 48_000


def _filtered_rms(source: str, preset: str) -> tuple[float, float]:
    """RMS of the left and right channels after the preset, for a 1 s lavfi source."""
    argv = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, "-af", PRESETS[preset]]
    argv += ["-f", "s16le", "-ac", "2", "-ar", str(RATE), "-"]
    pcm = subprocess.run(argv, check=True, capture_output=True, timeout=30).stdout
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64).reshape(-1, 2)
    left, right = samples[RATE // 10 :, 0], samples[RATE // 10 :, 1]  # skip the filter's onset
    return float(np.sqrt(np.mean(left**2))), float(np.sqrt(np.mean(right**2)))


@pytest.mark.parametrize("preset", ["karaoke"])
def test_karaoke_cuts_the_centre_and_keeps_the_sides(preset: str) -> None:
    # A "voice" mixed to the centre: the same 440 Hz tone in both channels.
    centre = "sine=f=440:d=1:sample_rate=48000,pan=stereo|c0=c0|c1=c0"
    # An "instrument" panned hard left: the tone in the left channel only.
    side = "sine=f=440:d=1:sample_rate=48000,pan=stereo|c0=c0|c1=0*c0"
    plain_centre = _filtered_rms(centre, "bassboost")  # any preset that keeps the centre
    cut_centre = _filtered_rms(centre, preset)
    cut_side = _filtered_rms(side, preset)
    # The centred tone drops by more than 20 dB; the panned one stays clearly audible.
    assert max(cut_centre) < plain_centre[0] / 10
    assert cut_side[0] > plain_centre[0] / 4
