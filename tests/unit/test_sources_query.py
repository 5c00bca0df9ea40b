"""Queries: links are vetted, everything else is search text (never a yt-dlp option)."""

from __future__ import annotations

import pytest

from voice_worker.sources.errors import InvalidQuery, UnsafeUrl
from voice_worker.sources.query import QueryKind, classify_query


@pytest.mark.parametrize(
    ("raw", "kind", "target"),
    [
        ("https://youtu.be/dQw4w9WgXcQ", QueryKind.URL, "https://youtu.be/dQw4w9WgXcQ"),
        ("  never gonna give you up  ", QueryKind.SEARCH, "ytsearch1:never gonna give you up"),
        ("-o /tmp/pwned --exec rm", QueryKind.SEARCH, "ytsearch1:-o /tmp/pwned --exec rm"),
        ("--config-location /etc/x", QueryKind.SEARCH, "ytsearch1:--config-location /etc/x"),
        ("ytsearch50:spam", QueryKind.SEARCH, "ytsearch1:ytsearch50:spam"),
        ("Queen: Bohemian Rhapsody", QueryKind.SEARCH, "ytsearch1:Queen: Bohemian Rhapsody"),
        ("a\x00b\r\nc", QueryKind.SEARCH, "ytsearch1:a b c"),
        ("ftp://example.com/a", QueryKind.URL, "ftp://example.com/a"),  # refused by the guard
    ],
)
def test_classify(raw: str, kind: QueryKind, target: str) -> None:
    query = classify_query(raw, max_search_length=200)
    assert query.kind is kind
    assert query.ytdlp_target == target


@pytest.mark.parametrize("raw", ["data:audio/ogg;base64,AAAA", "file:/etc/passwd", "javascript:x"])
def test_bare_dangerous_schemes_are_refused(raw: str) -> None:
    with pytest.raises(UnsafeUrl):
        classify_query(raw, max_search_length=200)


@pytest.mark.parametrize("raw", ["", "   ", "x" * 201])
def test_empty_or_long_queries_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        classify_query(raw, max_search_length=200)
    assert caught.value.user_message
