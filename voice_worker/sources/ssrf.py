"""SSRF guard: every user-supplied URL is hostile until parsed, normalised and resolved.

The pure part (:func:`parse_url`, :func:`check_addresses`) turns a raw string into one canonical
``http(s)://host[:port]/path?query`` form and judges IP addresses. The I/O part resolves the host
(``loop.getaddrinfo`` on the event loop, ``socket.getaddrinfo`` in worker threads) and requires
EVERY returned address to be allowed. Only the canonical URL is handed on, so the libraries
after us (httpx, yt-dlp, ffmpeg) never see a spelling they might parse differently.

Residual risk, documented rather than hidden: the host is resolved again by whoever connects,
so a DNS-rebinding attacker with a TTL-0 record can still win the race. Deployments should also
block metadata endpoints at the network level (IMDSv2 with hop limit 1, no task-role credentials
the worker does not need, egress rules).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from voice_worker.sources.addresses import (
    IPAddress,
    looks_like_ipv4,
    parse_ipv4_spelling,
    refusal_reason,
)
from voice_worker.sources.errors import SourceUnavailable, unsafe

AsyncResolve = Callable[[str, int], Awaitable[Sequence[str]]]
SyncResolve = Callable[[str, int], Sequence[str]]

MAX_URL_LENGTH: Final = 4096
ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
_DEFAULT_PORTS: Final = MappingProxyType({"http": 80, "https": 443, "ws": 80, "wss": 443})
# Libraries (yt-dlp extractors) may also open websockets; users may not.
_REQUEST_SCHEMES: Final = frozenset({"http", "https", "ws", "wss"})

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
# Whitespace, controls and backslashes are where URL parsers disagree (WHATWG reads "\" as "/").
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?$")
_PORT = re.compile(r"^[0-9]{1,5}$")

# Names that resolve to loopback or metadata without asking DNS (RFC 6761, /etc/hosts, clouds).
_LOOPBACK_NAMES: Final = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
)
_METADATA_NAMES: Final = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)


@dataclass(frozen=True)
class UrlPolicy:
    """What the guard lets through; ``allow_private_addresses`` is for the demo and tests only."""

    allow_private_addresses: bool = False


@dataclass(frozen=True)
class CheckedUrl:
    """A syntactically safe URL in canonical form (``ip`` is set for IP-literal hosts)."""

    url: str
    scheme: str
    host: str
    port: int
    ip: IPAddress | None


def parse_url(raw: str) -> CheckedUrl:
    """Parse and normalise ``raw``; raise :class:`UnsafeUrl` for anything but plain http(s)."""
    text = raw.strip()
    if not text or len(text) > MAX_URL_LENGTH or _FORBIDDEN_CHARS.search(text):
        raise unsafe("malformed")
    scheme_match = _SCHEME.match(text)
    if scheme_match is None:
        raise unsafe("malformed")
    scheme = scheme_match.group(1).lower()
    if scheme not in ALLOWED_SCHEMES:
        raise unsafe("scheme")
    rest = text[scheme_match.end() :]
    if not rest.startswith("//"):
        raise unsafe("malformed")  # "http:/host" and "http:host" are read differently by each
    rest = rest[2:]
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        raise unsafe("userinfo")
    host, ip, port = _parse_authority(authority, scheme)
    path, _, query = tail.partition("#")[0].partition("?")
    path = _encode_non_ascii(path or "/")
    if not path.startswith("/"):
        raise unsafe("malformed")
    url_host = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else host
    port_part = "" if port == _DEFAULT_PORTS[scheme] else f":{port}"
    query_part = f"?{_encode_non_ascii(query)}" if query else ""
    return CheckedUrl(f"{scheme}://{url_host}{port_part}{path}{query_part}", scheme, host, port, ip)


def parse_request_url(raw: str) -> CheckedUrl:
    """Lenient parse of a URL a library builds (path/query not policed, host and scheme are)."""
    try:
        split = urlsplit(raw)
    except ValueError:
        raise unsafe("malformed") from None
    scheme = split.scheme.lower()
    if scheme not in _REQUEST_SCHEMES:
        raise unsafe("scheme")
    if "@" in split.netloc:
        raise unsafe("userinfo")
    host, ip, port = _parse_authority(split.netloc, scheme)
    return CheckedUrl(raw, scheme, host, port, ip)


def check_addresses(addresses: Iterable[str], policy: UrlPolicy) -> None:
    """Raise :class:`UnsafeUrl` unless there is at least one address and all are allowed."""
    parsed = [_parse_resolved(a) for a in addresses]
    if not parsed:
        raise SourceUnavailable("dns_empty", "That link's website couldn't be found.")
    for address in parsed:
        reason = refusal_reason(address, allow_private=policy.allow_private_addresses)
        if reason is not None:
            raise unsafe(reason)


def precheck(url: CheckedUrl, policy: UrlPolicy) -> bool:
    """Checks that need no DNS; True when the host is an IP literal (no lookup needed)."""
    if url.ip is not None:
        check_addresses([str(url.ip)], policy)
        return True
    if url.host in _METADATA_NAMES:
        raise unsafe("metadata_address")
    if url.host in _LOOPBACK_NAMES or url.host.endswith(".localhost"):
        check_addresses(["127.0.0.1"], policy)
        return False  # allowed by the demo flag: still resolve, /etc/hosts may say otherwise
    return False


async def system_resolve(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the event loop's ``getaddrinfo`` (run in its default executor)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def system_resolve_sync(host: str, port: int) -> list[str]:
    """Blocking resolve, for code already running in a worker thread (yt-dlp's requests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def ensure_safe_url(
    raw: str, policy: UrlPolicy, resolve: AsyncResolve | None = None
) -> CheckedUrl:
    """Parse ``raw`` and resolve its host; every address must be allowed by ``policy``."""
    url = parse_url(raw)
    if not precheck(url, policy):
        try:
            addresses = await (resolve or system_resolve)(url.host, url.port)
        except (socket.gaierror, UnicodeError) as exc:
            raise _dns_failure() from exc
        check_addresses(addresses, policy)
    return url


def ensure_safe_url_sync(
    raw: str, policy: UrlPolicy, resolve: SyncResolve | None = None
) -> CheckedUrl:
    """Blocking twin of :func:`ensure_safe_url` for worker threads."""
    return _resolve_and_check_sync(parse_url(raw), policy, resolve)


def ensure_safe_request_url_sync(
    raw: str, policy: UrlPolicy, resolve: SyncResolve | None = None
) -> CheckedUrl:
    """Blocking check of a URL a library is about to request (host and scheme only)."""
    try:
        return _resolve_and_check_sync(parse_request_url(raw), policy, resolve)
    except SourceUnavailable as exc:
        # The user's link resolved; a host the extractor talks to did not: say "unreachable".
        raise SourceUnavailable("unreachable", "The source couldn't be reached right now.") from exc


def _resolve_and_check_sync(
    url: CheckedUrl, policy: UrlPolicy, resolve: SyncResolve | None
) -> CheckedUrl:
    if not precheck(url, policy):
        try:
            addresses = (resolve or system_resolve_sync)(url.host, url.port)
        except (socket.gaierror, UnicodeError) as exc:
            raise _dns_failure() from exc
        check_addresses(addresses, policy)
    return url


def _parse_authority(authority: str, scheme: str) -> tuple[str, IPAddress | None, int]:
    port_text = ""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise unsafe("malformed")
        literal, after = authority[1:end], authority[end + 1 :]
        if after:
            if not after.startswith(":"):
                raise unsafe("malformed")
            port_text = after[1:]
        # A zone id ("fe80::1%25eth0") names an interface: link-local anyway, drop it.
        literal = literal.split("%", 1)[0]
        try:
            ip: IPAddress | None = ipaddress.IPv6Address(literal)
        except ValueError:
            raise unsafe("malformed") from None
        host = str(ip)
    else:
        host, sep, port_text = authority.partition(":")
        if sep and ":" in port_text:
            raise unsafe("malformed")
        host, ip = _normalise_host(host)
    port = _DEFAULT_PORTS[scheme]
    if port_text:
        if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
            raise unsafe("malformed")
        port = int(port_text)
    return host, ip, port


def _normalise_host(host: str) -> tuple[str, IPAddress | None]:
    """Lower-case, drop a trailing dot, IDNA-encode, read numeric hosts as IPv4 like resolvers."""
    if "%" in host:
        raise unsafe("malformed")  # percent-encoded hosts decode differently per parser
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise unsafe("malformed")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise unsafe("malformed") from None
    if looks_like_ipv4(host):
        try:
            ip = parse_ipv4_spelling(host)
        except ValueError:
            raise unsafe("malformed") from None
        return str(ip), ip
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise unsafe("malformed")
    return host, None


def _parse_resolved(address: str) -> IPAddress:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        raise unsafe("malformed") from None


def _encode_non_ascii(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c if c.isascii() else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def _dns_failure() -> SourceUnavailable:
    return SourceUnavailable("dns_failed", "That link's website couldn't be found.")
