"""`musicbot resolve QUERY`: what the resolver makes of a query (for operators)."""

from __future__ import annotations

from typing import Any

from voice_worker.sources.models import Track
from voice_worker.sources.resolver import Resolver


async def describe(query: str, resolver: Resolver) -> dict[str, Any]:
    """Resolve ``query`` and summarise the first track (stream host only: URLs carry tokens)."""
    lookup = await resolver.lookup(query)
    first = lookup.entries[0]
    track = first if isinstance(first, Track) else await resolver.resolve(first)
    return {
        "query": query,
        "title": track.title,
        "webpage_url": track.webpage_url,
        "uploader": track.uploader,
        "duration_s": track.duration_s,
        "is_live": track.is_live,
        "codec": track.codec,
        "container": track.container,
        "protocol": track.protocol,
        "passthrough": track.is_opus_passthrough,
        "stream_host": track.stream_host,
        "expires_at": track.expires_at.isoformat(),
        "extractor": track.extractor,
        "entries": len(lookup.entries),
        "playlist_title": lookup.playlist_title,
        "truncated": lookup.truncated,
    }


def format_description(info: dict[str, Any]) -> str:
    """A human-readable rendering of :func:`describe`'s result (the CLI's non-JSON output)."""
    duration = info.get("duration_s")
    rows = [
        ("Title", info["title"]),
        ("Page", info["webpage_url"]),
        ("Duration", "live" if info["is_live"] else f"{duration:.1f} s" if duration else "?"),
        ("Codec", f"{info['codec'] or '?'} in {info['container'] or '?'}"),
        ("Passthrough", "yes" if info["passthrough"] else "no (transcode to Opus)"),
        ("Stream host", info["stream_host"]),
        ("Expires at", info["expires_at"]),
    ]
    if info["entries"] > 1:
        more = " (capped)" if info["truncated"] else ""
        rows.append(("Playlist", f"{info['playlist_title'] or '?'}: {info['entries']} items{more}"))
    return "\n".join(f"{label + ':':<13}{value}" for label, value in rows)
