"""Play query validation: what is passed on, cleaned, or refused (and how it is explained)."""

from __future__ import annotations

import pytest

from interactions.validation import InvalidOption, clean_text, validate_query


@pytest.mark.parametrize(
    ("raw", "text", "is_url"),
    [
        ("never gonna give you up", "never gonna give you up", False),
        ("  spaced\t\nout  ", "spaced out", False),
        ("Mozart: Requiem", "Mozart: Requiem", False),
        ("AC/DC - T.N.T.", "AC/DC - T.N.T.", False),
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            True,
        ),
        ("HTTP://Example.com/a", "HTTP://Example.com/a", True),
        ("https://93.184.216.34:8443/s.mp3", "https://93.184.216.34:8443/s.mp3", True),
        ("日本の歌", "日本の歌", False),
        ("zero\u200bwidth\u202eflip", "zerowidthflip", False),
    ],
)
def test_good_queries_are_cleaned_and_passed(raw: str, text: str, is_url: bool) -> None:
    query = validate_query(raw, max_length=100)
    assert (query.text, query.is_url) == (text, is_url)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "Tell me what to play"),
        (42, "Tell me what to play"),
        ("", "Tell me what to play"),
        ("\x00\x1b\x07\u200b", "Tell me what to play"),
        ("x" * 101, "too long"),
        ("x" * 100_000, "too long"),
        ("file:///etc/passwd", "only play web links"),
        ("FILE:/etc/passwd", "only play web links"),
        ("javascript:alert(1)", "only play web links"),
        ("data:audio/mp3;base64,AAAA", "only play web links"),
        ("ftp://example.com/a.mp3", "only play web links"),
        ("ytsearch10:anything", "only play web links"),
        ("https://exa mple.com", "spaces"),
        ("http://", "doesn't look right"),
        ("http://example.com:99999/", "doesn't look right"),
        ("http://127.0.0.1/", "private"),
        ("http://[::1]:80/", "private"),
        ("http://10.1.2.3/x", "private"),
        ("http://169.254.169.254/latest", "private"),
        ("http://localhost/", "private"),
        ("http://metadata.google.internal/", "private"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(raw: object, message: str) -> None:
    with pytest.raises(InvalidOption, match=message):
        validate_query(raw, max_length=100)


def test_private_addresses_allowed_when_configured() -> None:
    assert validate_query("http://10.0.0.5/a.ogg", max_length=100, allow_private=True).is_url


def test_clean_text_keeps_letters_and_folds_whitespace() -> None:
    assert clean_text("\tA\u0000B\r\nC\u00a0D ") == "AB C D"
