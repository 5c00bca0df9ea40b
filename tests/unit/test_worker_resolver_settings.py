"""Operators configure yt-dlp through settings; the resolver gets exactly those options."""

from __future__ import annotations

import pytest

from shared.settings import load_settings
from voice_worker.bootstrap import resolver_config


def test_ytdlp_operator_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YTDLP_COOKIES_FILE", "/run/secrets/cookies.txt")
    monkeypatch.setenv("YTDLP_PROXY", "socks5://proxy.internal:1080")
    monkeypatch.setenv("YTDLP_EXTRACTOR_ARGS", '{"youtube": {"player_client": ["web", "tv"]}}')
    monkeypatch.setenv("SOURCE_RESOLVE_TIMEOUT_S", "12.5")
    monkeypatch.setenv("SOURCE_MAX_PLAYLIST_ITEMS", "120")
    config = resolver_config(load_settings())
    assert config.timeout_s == 12.5
    assert config.max_playlist_items == 120
    assert config.yt_dlp_operator_params() == {
        "cookiefile": "/run/secrets/cookies.txt",
        "proxy": "socks5://proxy.internal:1080",
        "extractor_args": {"youtube": {"player_client": ["web", "tv"]}},
    }


def test_defaults_pass_no_operator_options(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "YTDLP_COOKIES_FILE",
        "YTDLP_PROXY",
        "YTDLP_EXTRACTOR_ARGS",
        "YTDLP_SOURCE_ADDRESS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = resolver_config(load_settings())
    assert config.yt_dlp_operator_params() == {}
    assert config.allow_private_addresses is False


def test_malformed_extractor_args_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YTDLP_EXTRACTOR_ARGS", '{"youtube": "web"}')
    with pytest.raises(ValueError, match="ytdlp_extractor_args"):
        load_settings()
