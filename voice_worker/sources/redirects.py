"""Follow a URL's redirects ourselves, checking every hop with the SSRF guard before we send it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import structlog

from voice_worker.sources.errors import ResolveTimeout, SourceUnavailable, unsafe
from voice_worker.sources.logsafe import url_host
from voice_worker.sources.ssrf import AsyncResolve, UrlPolicy, ensure_safe_url

log = structlog.get_logger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class FinalUrl:
    """Where a chain of redirects ended: the canonical, checked URL and what it answered."""

    url: str
    status: int
    content_type: str | None
    hops: int


async def follow_redirects(
    url: str,
    policy: UrlPolicy,
    *,
    client: httpx.AsyncClient,
    max_redirects: int,
    resolve: AsyncResolve | None = None,
    headers: Mapping[str, str] | None = None,
) -> FinalUrl:
    """GET ``url`` without following redirects; check and follow each ``Location`` by hand.

    Only response headers are read (the body is never downloaded). Raises :class:`UnsafeUrl`
    for a refused hop or too many hops, :class:`SourceUnavailable` for 404/410 or an
    unreachable host, :class:`ResolveTimeout` when the server doesn't answer in time.
    """
    current = url
    for hop in range(max_redirects + 1):
        checked = await ensure_safe_url(current, policy, resolve)
        status, location, content_type = await _head_of(client, checked.url, headers)
        if status in REDIRECT_STATUSES and location:
            current = str(httpx.URL(checked.url).join(location))
            log.debug("source.redirect.hop", hop=hop + 1, host=url_host(current))
            continue
        if status in GONE_STATUSES:
            raise SourceUnavailable("not_found")
        return FinalUrl(checked.url, status, content_type, hop)
    log.info("source.redirect.too_many", host=url_host(url), max_redirects=max_redirects)
    raise unsafe("too_many_redirects")


async def _head_of(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str] | None
) -> tuple[int, str | None, str | None]:
    # GET rather than HEAD: many media servers answer HEAD wrongly (405, or no redirect).
    request = client.build_request("GET", url, headers=dict(headers or {}))
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
    except httpx.TimeoutException:
        raise ResolveTimeout("preflight_timeout") from None
    except httpx.HTTPError as exc:
        log.info("source.preflight.failed", host=url_host(url), error=type(exc).__name__)
        raise SourceUnavailable("unreachable", "That link's website couldn't be reached.") from None
    try:
        return (
            response.status_code,
            response.headers.get("location"),
            response.headers.get("content-type"),
        )
    finally:
        await response.aclose()
