"""The SSRF guard: hostile URLs refused in every spelling, public ones accepted, no network used."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_worker.sources.addresses import (
    AddressClass,
    classify_address,
    embedded_ipv4,
    parse_ipv4_spelling,
)
from voice_worker.sources.errors import SourceUnavailable, UnsafeUrl
from voice_worker.sources.ssrf import (
    UrlPolicy,
    ensure_safe_request_url_sync,
    ensure_safe_url,
    ensure_safe_url_sync,
    parse_url,
)

STRICT = UrlPolicy(allow_private_addresses=False)
DEMO = UrlPolicy(allow_private_addresses=True)

# A fake DNS: tests never touch the network. Unknown names fail like NXDOMAIN.
FAKE_DNS: dict[str, list[str]] = {
    "example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "cdn.example.net": ["151.101.1.69"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],  # one bad address taints all
    "internal.example": ["10.0.0.5"],
    "meta.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "scoped.example": ["fe80::1%2"],
    "localhost": ["127.0.0.1", "::1"],
    "foo.localhost": ["127.0.0.1"],
}


async def fake_resolve(host: str, port: int) -> Sequence[str]:
    return _lookup(host)


def fake_resolve_sync(host: str, port: int) -> Sequence[str]:
    return _lookup(host)


def _lookup(host: str) -> list[str]:
    if host not in FAKE_DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return FAKE_DNS[host]


def fullwidth(text: str) -> str:
    """The full-width Unicode twin of ASCII text (IDNA maps it back: resolvers see ASCII)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and c != "." else c for c in text)


HOSTILE = [
    # schemes
    ("file:///etc/passwd", "scheme"),
    ("ftp://example.com/a.mp3", "scheme"),
    ("data:audio/ogg;base64,AAAA", "scheme"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("dict://127.0.0.1:11211/stat", "scheme"),
    ("ws://127.0.0.1/", "scheme"),
    # userinfo tricks
    ("http://user@evil@127.0.0.1", "userinfo"),
    ("http://example.com@127.0.0.1/", "userinfo"),
    ("http://user:pass@example.com/", "userinfo"),
    ("http://127.0.0.1:80@example.com/", "userinfo"),
    # parser differentials
    ("http://example.com\\@127.0.0.1/", "malformed"),
    ("http:/127.0.0.1/", "malformed"),
    ("http:127.0.0.1", "malformed"),
    ("http:///127.0.0.1/", "malformed"),
    ("http://exa mple.com/", "malformed"),
    ("http://example.com\t.evil/", "malformed"),
    ("http://127.0.0.1%2f/", "malformed"),
    ("http://%31%32%37.0.0.1/", "malformed"),
    ("http://[::1/", "malformed"),
    ("http://[127.0.0.1]/", "malformed"),
    ("http://example.com:0/", "malformed"),
    ("http://example.com:65536/", "malformed"),
    ("http://example.com:80:80/", "malformed"),
    ("http://1.2.3.4.5/", "malformed"),
    ("http://256.1.1.1/", "malformed"),
    ("http://0x1g.1/", "malformed"),
    ("http://08.0.0.1/", "malformed"),
    ("http://example.123/", "malformed"),
    ("http://localhost../", "malformed"),
    ("http:///", "malformed"),
    # loopback, every spelling
    ("http://127.0.0.1/", "private_address"),
    ("http://127.1", "private_address"),
    ("http://127.0.1/", "private_address"),
    ("http://2130706433/", "private_address"),
    ("http://0177.0.0.1/", "private_address"),
    ("http://0x7f.1/", "private_address"),
    ("http://0x7f000001/", "private_address"),
    ("http://017700000001/", "private_address"),
    ("http://127.0.0.1./", "private_address"),
    ("HTTP://127.0.0.1:8080/x", "private_address"),
    ("http://[::1]/", "private_address"),
    ("http://[::1]:8080/", "private_address"),
    ("http://[0:0:0:0:0:0:0:1]/", "private_address"),
    ("http://[::ffff:127.0.0.1]/", "private_address"),
    ("http://[::ffff:7f00:1]/", "private_address"),
    ("http://[::ffff:0:7f00:1]/", "private_address"),
    ("http://[::127.0.0.1]/", "private_address"),
    ("http://[64:ff9b::127.0.0.1]/", "private_address"),
    ("http://[2002:7f00:1::]/", "private_address"),
    ("http://localhost/", "private_address"),
    ("http://localhost./", "private_address"),
    ("http://LocalHost:80/", "private_address"),
    ("http://foo.localhost/", "private_address"),
    (f"http://{fullwidth('localhost')}/", "private_address"),
    (f"http://{fullwidth('127.0.0.1')}/", "private_address"),
    ("http://127。0。0。1/", "private_address"),
    # private networks
    ("http://10.0.0.1/", "private_address"),
    ("http://172.16.5.4/", "private_address"),
    ("http://172.31.255.255/", "private_address"),
    ("http://192.168.1.1/", "private_address"),
    ("http://100.64.0.1/", "private_address"),
    ("http://100.127.255.254/", "private_address"),
    ("http://[fc00::1]/", "private_address"),
    ("http://[fd12:3456::1]/", "private_address"),
    ("http://[::ffff:10.1.2.3]/", "private_address"),
    ("http://[::ffff:c0a8:101]/", "private_address"),
    # link-local
    ("http://169.254.1.1/", "private_address"),
    ("http://[fe80::1]/", "private_address"),
    ("http://[fe80::1%25eth0]/", "private_address"),
    # cloud metadata
    ("http://169.254.169.254/latest/meta-data", "metadata_address"),
    ("http://169.254.169.254/computeMetadata/v1/", "metadata_address"),
    ("http://2852039166/latest/meta-data", "metadata_address"),
    ("http://0xa9fea9fe/", "metadata_address"),
    ("http://0251.0376.0251.0376/", "metadata_address"),
    ("http://169.254.43518/", "metadata_address"),
    ("http://169.254.169.254./", "metadata_address"),
    ("http://169.254.170.2/v2/credentials", "metadata_address"),
    ("http://[fd00:ec2::254]/latest/meta-data", "metadata_address"),
    ("http://[fd20:ce::254]/", "metadata_address"),
    ("http://[::ffff:169.254.169.254]/", "metadata_address"),
    ("http://[::ffff:a9fe:a9fe]/", "metadata_address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "metadata_address"),
    ("http://[2002:a9fe:a9fe::]/", "metadata_address"),
    ("http://168.63.129.16/machine", "metadata_address"),
    ("http://100.100.100.200/latest/meta-data", "metadata_address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata_address"),
    ("http://metadata.google.internal./", "metadata_address"),
    ("http://METADATA/", "metadata_address"),
    # reserved
    ("http://0/", "reserved_address"),
    ("http://0.0.0.0/", "reserved_address"),
    ("http://[::]/", "reserved_address"),
    ("http://224.0.0.1/", "reserved_address"),
    ("http://239.255.255.250:1900/", "reserved_address"),
    ("http://255.255.255.255/", "reserved_address"),
    ("http://240.0.0.1/", "reserved_address"),
    ("http://192.0.2.1/", "reserved_address"),
    ("http://198.18.0.1/", "reserved_address"),
    ("http://[ff02::1]/", "reserved_address"),
    ("http://[2001:db8::1]/", "reserved_address"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "reserved_address"),
    ("http://[64:ff9b:1::1]/", "reserved_address"),
    # names that resolve to bad addresses (fake DNS)
    ("http://rebind.example/", "private_address"),
    ("http://internal.example/", "private_address"),
    ("http://meta.example/latest", "metadata_address"),
    ("http://mapped.example/", "private_address"),
    ("http://scoped.example/", "private_address"),
]


@pytest.mark.parametrize(("url", "reason"), HOSTILE)
async def test_hostile_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await ensure_safe_url(url, STRICT, fake_resolve)
    assert caught.value.reason == reason
    assert caught.value.user_message.endswith(".")


@pytest.mark.parametrize(("url", "reason"), HOSTILE)
def test_sync_twin_agrees(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        ensure_safe_url_sync(url, STRICT, fake_resolve_sync)
    assert caught.value.reason == reason


def test_private_address_message_is_user_facing() -> None:
    with pytest.raises(UnsafeUrl) as caught:
        ensure_safe_url_sync("http://192.168.0.1/", STRICT, fake_resolve_sync)
    assert caught.value.user_message == (
        "That link points to a private network address and can't be played."
    )


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://example.com/watch?v=abc", "https://example.com/watch?v=abc"),
        ("  HTTPS://EXAMPLE.com:443/a#frag  ", "https://example.com/a"),
        ("http://example.com.:8080", "http://example.com:8080/"),
        ("http://93.184.216.34/x.mp3", "http://93.184.216.34/x.mp3"),
        ("http://1572395042/x", "http://93.184.216.34/x"),
        ("https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/"),
        (
            "https://[2606:4700:4700:0::1111]:8443/a?b=c",
            "https://[2606:4700:4700::1111]:8443/a?b=c",
        ),
        ("https://cdn.example.net/a b?c=d", None),
        ("https://cdn.example.net/é?q=ü", "https://cdn.example.net/%C3%A9?q=%C3%BC"),
        ("https://[::ffff:8.8.8.8]/", "https://[::ffff:808:808]/"),
        ("https://[64:ff9b::8.8.8.8]/", "https://[64:ff9b::808:808]/"),
    ],
)
async def test_public_urls_are_accepted_and_canonicalised(url: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(UnsafeUrl):
            await ensure_safe_url(url, STRICT, fake_resolve)
        return
    checked = await ensure_safe_url(url, STRICT, fake_resolve)
    assert checked.url == canonical


async def test_every_resolved_address_must_be_public() -> None:
    # GIVEN a name with one public and one loopback address WHEN checked THEN refused.
    with pytest.raises(UnsafeUrl):
        await ensure_safe_url("https://rebind.example/", STRICT, fake_resolve)
    # and a name with only public addresses (v4 and v6) passes.
    assert (await ensure_safe_url("https://example.com/", STRICT, fake_resolve)).host == (
        "example.com"
    )


async def test_unknown_host_is_unavailable_not_unsafe() -> None:
    with pytest.raises(SourceUnavailable) as caught:
        await ensure_safe_url("https://no-such-host.invalid/", STRICT, fake_resolve)
    assert caught.value.reason == "dns_failed"


async def test_empty_dns_answer_is_unavailable() -> None:
    async def empty(host: str, port: int) -> list[str]:
        return []

    with pytest.raises(SourceUnavailable):
        await ensure_safe_url("https://example.com/", STRICT, empty)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/tone.webm",
        "http://127.1/",
        "http://[::1]/",
        "http://localhost./a",
        "http://10.1.2.3/",
        "http://100.64.0.1/",
        "http://[fd12::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://internal.example/",
    ],
)
async def test_demo_flag_allows_private_and_loopback(url: str) -> None:
    await ensure_safe_url(url, DEMO, fake_resolve)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fd00:ec2::254]/",
        "http://169.254.170.2/",
        "http://metadata.google.internal/",
        "http://meta.example/",
        "http://169.254.10.10/",  # link-local stays refused: metadata services live there
        "http://0/",
        "http://224.0.0.1/",
        "file:///etc/passwd",
        "http://user@evil@127.0.0.1",
    ],
)
async def test_demo_flag_still_refuses_metadata_and_reserved(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await ensure_safe_url(url, DEMO, fake_resolve)


def test_canonical_url_hides_weird_spellings_from_later_parsers() -> None:
    assert parse_url("http://0x7f.1:8080/a").url == "http://127.0.0.1:8080/a"
    assert parse_url("http://[::FFFF:7F00:1]/").url == "http://[::ffff:7f00:1]/"


def test_library_requests_are_checked_by_host_only() -> None:
    # yt-dlp's own requests may carry characters we refuse from users, but never a bad host.
    ensure_safe_request_url_sync("https://example.com/api?q=a b|c", STRICT, fake_resolve_sync)
    ensure_safe_request_url_sync("wss://example.com/socket", STRICT, fake_resolve_sync)
    for url in ("http://169.254.169.254/", "file:///etc/passwd", "http://u@example.com/"):
        with pytest.raises(UnsafeUrl):
            ensure_safe_request_url_sync(url, STRICT, fake_resolve_sync)


def test_library_request_to_unresolvable_host_is_unreachable() -> None:
    with pytest.raises(SourceUnavailable) as caught:
        ensure_safe_request_url_sync("https://nope.invalid/", STRICT, fake_resolve_sync)
    assert caught.value.reason == "unreachable"


@pytest.mark.parametrize(
    ("address", "cls"),
    [
        ("8.8.8.8", AddressClass.PUBLIC),
        ("2606:4700:4700::1111", AddressClass.PUBLIC),
        ("127.0.0.1", AddressClass.PRIVATE),
        ("169.254.169.254", AddressClass.METADATA),
        ("169.254.0.1", AddressClass.LINK_LOCAL),
        ("224.0.0.251", AddressClass.RESERVED),
        ("::ffff:8.8.8.8", AddressClass.PUBLIC),
        ("::ffff:0:a00:1", AddressClass.PRIVATE),
        ("2002:0a00:0001::1", AddressClass.PRIVATE),
    ],
)
def test_classify_address(address: str, cls: AddressClass) -> None:
    assert classify_address(ipaddress.ip_address(address)) == cls


def test_embedded_ipv4_ignores_unspecified_and_loopback() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("::")) is None
    assert embedded_ipv4(ipaddress.IPv6Address("::1")) is None
    assert embedded_ipv4(ipaddress.IPv6Address("::ffff:1.2.3.4")) == ipaddress.IPv4Address(
        "1.2.3.4"
    )


# --- property: a private IPv4 address is refused however it is written ---------------------

PRIVATE_V4_NETS = [
    ipaddress.IPv4Network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "0.0.0.0/8",
    )
]


@st.composite
def private_ipv4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    net = draw(st.sampled_from(PRIVATE_V4_NETS))
    offset = draw(st.integers(0, net.num_addresses - 1))
    return net.network_address + offset


def _part(value: int, style: str) -> str:
    return {"dec": str(value), "oct": f"0{value:o}", "hex": f"0x{value:x}", "HEX": f"0X{value:X}"}[
        style
    ]


@st.composite
def ipv4_spelling(draw: st.DrawFn, ip: ipaddress.IPv4Address) -> str:
    """One of the many ways resolvers and URL parsers accept to write ``ip``."""
    octets = list(ip.packed)
    value = int(ip)
    shape = draw(st.sampled_from(["4", "3", "2", "1", "mapped", "mapped_hex", "nat64", "6to4"]))
    styles = st.sampled_from(["dec", "oct", "hex", "HEX"])
    if shape == "4":
        host = ".".join(_part(o, draw(styles)) for o in octets)
    elif shape == "3":
        host = ".".join(
            [
                _part(octets[0], draw(styles)),
                _part(octets[1], draw(styles)),
                _part((octets[2] << 8) | octets[3], draw(styles)),
            ]
        )
    elif shape == "2":
        host = f"{_part(octets[0], draw(styles))}.{_part(value & 0xFFFFFF, draw(styles))}"
    elif shape == "1":
        host = _part(value, draw(styles))
    elif shape == "mapped":
        host = f"[::ffff:{ip}]"
    elif shape == "mapped_hex":
        host = f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]"
    elif shape == "nat64":
        host = f"[64:ff9b::{ip}]"
    else:
        host = f"[2002:{value >> 16:x}:{value & 0xFFFF:x}::1]"
    if not host.startswith("[") and draw(st.booleans()):
        host += "."  # the DNS root
    return host


@given(data=st.data())
def test_private_ipv4_refused_in_any_spelling(data: st.DataObject) -> None:
    ip = data.draw(private_ipv4())
    host = data.draw(ipv4_spelling(ip))
    port = data.draw(st.sampled_from(["", ":80", ":8080"]))
    with pytest.raises(UnsafeUrl):
        ensure_safe_url_sync(f"http://{host}{port}/x", STRICT, fake_resolve_sync)


@given(data=st.data())
def test_ipv4_spellings_round_trip(data: st.DataObject) -> None:
    ip = ipaddress.IPv4Address(data.draw(st.integers(0, 2**32 - 1)))
    host = data.draw(ipv4_spelling(ip))
    if host.startswith("["):
        return  # IPv6 forms are covered by the refusal property
    assert parse_ipv4_spelling(host) == ip
