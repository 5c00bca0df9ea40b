"""IP address classification for the SSRF guard (pure, no I/O).

``ipaddress``'s ``is_global``/``is_private`` alone are not enough: on Python 3.11 multicast
(224.0.0.0/4) counts as global, and IPv6 forms that embed an IPv4 address (``::ffff:0:7f00:1``,
``::7f00:1``, ``64:ff9b::7f00:1``, ``2002:7f00:1::``) count as global too, although a resolver,
NAT64 gateway or 6to4 relay may deliver them to the embedded IPv4 address. So the embedded
address is extracted and classified, and the categories below are checked explicitly first.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressClass(enum.StrEnum):
    """What kind of network an address belongs to, as far as the SSRF guard cares."""

    PUBLIC = "public"
    PRIVATE = "private"  # loopback, RFC 1918, CGNAT, unique-local: allowed by the demo flag
    LINK_LOCAL = "link_local"  # 169.254/16, fe80::/10: where metadata services live
    METADATA = "metadata"  # cloud metadata and platform endpoints: never allowed
    RESERVED = "reserved"  # unspecified, multicast, documentation, benchmarking, 240/4...


# Cloud metadata and platform endpoints. Several are also link-local or private; listing them
# keeps them refused when the demo flag allows private addresses.
METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata / credentials
        "169.254.169.253",  # AWS VPC DNS
        "169.254.169.123",  # AWS time sync
        "168.63.129.16",  # Azure WireServer (a public-looking address)
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud legacy metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS VPC DNS over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
    )
)

_V4_NETS: Final = tuple(
    (ipaddress.IPv4Network(net), cls)
    for net, cls in (
        ("0.0.0.0/8", AddressClass.RESERVED),  # "this network": 0.0.0.0 reaches localhost
        ("127.0.0.0/8", AddressClass.PRIVATE),
        ("10.0.0.0/8", AddressClass.PRIVATE),
        ("172.16.0.0/12", AddressClass.PRIVATE),
        ("192.168.0.0/16", AddressClass.PRIVATE),
        ("100.64.0.0/10", AddressClass.PRIVATE),  # CGNAT
        ("169.254.0.0/16", AddressClass.LINK_LOCAL),
        ("224.0.0.0/4", AddressClass.RESERVED),  # multicast
        ("240.0.0.0/4", AddressClass.RESERVED),  # future use and 255.255.255.255
    )
)

_V6_NETS: Final = tuple(
    (ipaddress.IPv6Network(net), cls)
    for net, cls in (
        ("::/128", AddressClass.RESERVED),
        ("::1/128", AddressClass.PRIVATE),
        ("fe80::/10", AddressClass.LINK_LOCAL),
        ("fec0::/10", AddressClass.PRIVATE),  # deprecated site-local
        ("fc00::/7", AddressClass.PRIVATE),  # unique-local
        ("ff00::/8", AddressClass.RESERVED),  # multicast
        ("64:ff9b:1::/48", AddressClass.RESERVED),  # local-use NAT64 (RFC 8215)
        ("2001::/32", AddressClass.RESERVED),  # Teredo: tunnels to an obfuscated IPv4 peer
        ("100::/64", AddressClass.RESERVED),  # discard-only
    )
)

# IPv6 prefixes whose low 32 bits are an IPv4 address that traffic may end up at.
_EMBEDS_V4_LOW32: Final = (
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("64:ff9b::/96"),  # well-known NAT64 prefix
)

_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address embeds (mapped, compatible, NAT64, 6to4), if any."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if int(ip) <= 1:
        return None  # :: and ::1 are themselves, not IPv4-compatible addresses
    for net in _EMBEDS_V4_LOW32:
        if ip in net:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify_address(ip: IPAddress) -> AddressClass:
    """Classify one address; an IPv6 address embedding IPv4 gets the stricter of both."""
    base = _strip_scope(ip)
    if base in METADATA_ADDRESSES:
        return AddressClass.METADATA
    if isinstance(base, ipaddress.IPv6Address):
        inner = embedded_ipv4(base)
        if inner is not None:
            return classify_address(inner)
        nets: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, AddressClass], ...]
        nets = _V6_NETS
    else:
        nets = _V4_NETS
    for net, cls in nets:
        if base in net:
            return cls
    # Documentation, benchmarking, IETF protocol assignments and the rest of the registry.
    return AddressClass.PUBLIC if base.is_global else AddressClass.RESERVED


def refusal_reason(ip: IPAddress, *, allow_private: bool) -> str | None:
    """``None`` when the address may be contacted, else a reason code for :func:`errors.unsafe`."""
    cls = classify_address(ip)
    if cls is AddressClass.PUBLIC or (cls is AddressClass.PRIVATE and allow_private):
        return None
    return {
        AddressClass.PRIVATE: "private_address",
        AddressClass.LINK_LOCAL: "private_address",
        AddressClass.METADATA: "metadata_address",
    }.get(cls, "reserved_address")


def looks_like_ipv4(host: str) -> bool:
    """True when resolvers would read ``host`` as an IPv4 address (its last label is numeric)."""
    labels = host.rstrip(".").split(".")
    return bool(labels) and _NUMERIC_LABEL.match(labels[-1]) is not None


def parse_ipv4_spelling(host: str) -> ipaddress.IPv4Address:
    """Parse IPv4 the way ``inet_aton`` and URL parsers do: 1-4 parts, decimal, octal or hex.

    ``127.1``, ``2130706433``, ``0177.0.0.1`` and ``0x7f.1`` all mean 127.0.0.1. Raises
    ``ValueError`` when the host looks numeric but is not a valid address.
    """
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()  # one trailing dot is the DNS root
    if not 1 <= len(parts) <= 4:
        raise ValueError(f"not an IPv4 address: {host!r}")
    numbers = [_parse_ipv4_part(part) for part in parts]
    *leading, last = numbers
    if any(n > 0xFF for n in leading) or last >= 1 << (8 * (5 - len(numbers))):
        raise ValueError(f"IPv4 part out of range: {host!r}")
    value = last
    for index, number in enumerate(leading):
        value |= number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _parse_ipv4_part(part: str) -> int:
    lowered = part.lower()
    if lowered.startswith("0x"):
        digits = lowered[2:]
        if digits and not all(c in "0123456789abcdef" for c in digits):
            raise ValueError(f"bad hex IPv4 part: {part!r}")
        return int(digits, 16) if digits else 0
    if not part.isascii() or not part.isdigit():
        raise ValueError(f"bad IPv4 part: {part!r}")
    if len(part) > 1 and part.startswith("0"):
        if any(c in "89" for c in part):
            raise ValueError(f"bad octal IPv4 part: {part!r}")
        return int(part, 8)
    return int(part)


def _strip_scope(ip: IPAddress) -> IPAddress:
    # "fe80::1%eth0" carries a zone id; membership tests work on the bare address.
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        return ipaddress.IPv6Address(int(ip))
    return ip
