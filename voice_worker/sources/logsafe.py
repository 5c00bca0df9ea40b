"""Keep signed stream URLs out of logs: log the host, never the query string."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Any http(s) URL inside free text (yt-dlp messages quote the URLs they fetch).
_URL_IN_TEXT = re.compile(r"(https?://)([^/\s?#'\"]+)[^\s'\"]*", re.IGNORECASE)


def url_host(url: str) -> str:
    """The host of ``url`` (``"?"`` when it has none): safe to log."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def redact_urls(text: str) -> str:
    """Replace every URL in ``text`` by ``scheme://host/…`` so tokens in paths/queries vanish."""
    return _URL_IN_TEXT.sub(lambda m: f"{m[1]}{m[2].rpartition('@')[2]}/…", text)
