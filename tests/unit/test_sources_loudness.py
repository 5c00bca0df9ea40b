"""Loudness normalisation in the ffmpeg argv: it forces transcoding and comes before volume."""

from __future__ import annotations

from tests.unit.test_sources_ffmpeg import make_track, value_after
from voice_worker.player import opus_source_args
from voice_worker.sources.ffmpeg import (
    LOUDNESS_FILTER,
    PRESETS,
    AudioOptions,
    build_ffmpeg_argv,
    filter_chain,
    is_passthrough,
)


def test_normalisation_turns_passthrough_off_and_filters() -> None:
    track = make_track()
    assert is_passthrough(track, AudioOptions())
    options = AudioOptions(normalize=True)
    assert options.has_filters and not is_passthrough(track, options)
    argv = build_ffmpeg_argv(track, options)
    assert value_after(argv, "-c:a") == "libopus"
    assert value_after(argv, "-af") == LOUDNESS_FILTER
    assert LOUDNESS_FILTER.startswith("loudnorm=I=-16:TP=-1.5:LRA=11")
    assert "loudnorm" not in PRESETS  # a setting, not a preset users pick


def test_normalisation_goes_after_the_preset_and_before_the_volume() -> None:
    chain = filter_chain(AudioOptions(normalize=True, volume=0.5, preset="bassboost"))
    assert chain == f"{PRESETS['bassboost']},{LOUDNESS_FILTER},volume=0.500"


def test_the_player_passes_the_chain_to_ffmpeg_when_normalising() -> None:
    args = opus_source_args(make_track(), AudioOptions(normalize=True))
    assert args["codec"] == "libopus"
    assert f"-af {LOUDNESS_FILTER}" in str(args["options"])
