"""Hypothesis strategies for hostile Discord input: JSON of any shape, interaction-like payloads
with every field wrong in turn, option values of every type and size, URLs of every spelling."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from interactions.commands.definitions import COMMAND_NAMES


def fullwidth(text: str) -> str:
    """The full-width Unicode twin of ASCII text (IDNA and NFKC map it back to ASCII)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


SNOWFLAKE = st.integers(min_value=0, max_value=2**64 - 1).map(str)
HUGE_INTS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
    st.integers(min_value=-(2**200), max_value=2**200),
)
WEIRD_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.lists(
        st.sampled_from(
            [
                "\u202e",
                "\u200b",
                "\ufeff",
                "\x00",
                "\n",
                "\t",
                "\u0301",
                "🎵",
                fullwidth("http"),
                "%",
                "/",
            ]
        ),
        max_size=40,
    ).map("".join),
    st.sampled_from(["", " ", "a" * 10_000, "\x00" * 3000, "🎵" * 2500]),
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), HUGE_INTS, st.floats(allow_nan=False), WEIRD_TEXT
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=12), children, max_size=5),
    ),
    max_leaves=20,
)

HOSTS = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "127.0.0.1",
            "localhost",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "169.254.169.254",
            "10.0.0.1",
            "0x7f000001",
            "2130706433",
            "metadata.google.internal",
            "foo.localhost",
            fullwidth("localhost"),
            "[fe80::1%25eth0]",
            "",
        ]
    ),
    st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
    st.from_regex(r"[a-z0-9\-\.]{1,30}", fullmatch=True),
)
SCHEMES = st.sampled_from(
    [
        "http",
        "https",
        "HTTP",
        "file",
        "ftp",
        "gopher",
        "data",
        "javascript",
        "ws",
        "dict",
        "ytsearch",
    ]
)
URLS = st.builds(
    lambda scheme, slashes, userinfo, host, port, path: (
        f"{scheme}:{slashes}{userinfo}{host}{port}{path}"
    ),
    SCHEMES,
    st.sampled_from(["//", "/", "", "///", "\\\\"]),
    st.sampled_from(["", "user@", "a:b@", "example.com@"]),
    HOSTS,
    st.sampled_from(["", ":80", ":0", ":65536", ":-1", ":x"]),
    st.text(max_size=30),
)

OPTION_VALUES = st.one_of(ANY_JSON, URLS, WEIRD_TEXT, HUGE_INTS)
COMMAND_NAME = st.one_of(st.sampled_from(sorted(COMMAND_NAMES)), st.text(max_size=20))


def _option(name: str, value: Any, kind: int) -> dict[str, Any]:
    return {"name": name, "type": kind, "value": value}


OPTIONS = st.lists(
    st.builds(
        _option,
        st.one_of(st.sampled_from(["query", "next", "position", "index", "to"]), st.text()),
        OPTION_VALUES,
        st.integers(min_value=-1, max_value=12),
    ),
    max_size=4,
)
MEMBER = st.one_of(
    st.fixed_dictionaries(
        {
            "user": st.one_of(
                st.fixed_dictionaries({"id": SNOWFLAKE, "username": WEIRD_TEXT}), ANY_JSON
            ),
            "roles": st.one_of(st.lists(SNOWFLAKE, max_size=3), ANY_JSON),
            "permissions": st.one_of(HUGE_INTS.map(str), ANY_JSON),
            "nick": st.one_of(st.none(), WEIRD_TEXT),
        }
    ),
    ANY_JSON,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right kind of value most of the time, anything at all sometimes."""
    return st.one_of(value, value, value, ANY_JSON)


INTERACTIONS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "id": _maybe(SNOWFLAKE),
        "application_id": _maybe(SNOWFLAKE),
        "type": _maybe(st.integers(min_value=0, max_value=6)),
        "token": _maybe(st.text(min_size=1, max_size=1200)),
        "guild_id": _maybe(SNOWFLAKE),
        "channel_id": _maybe(SNOWFLAKE),
        "member": MEMBER,
        "data": _maybe(
            st.fixed_dictionaries(
                {
                    "name": _maybe(COMMAND_NAME),
                    "options": _maybe(OPTIONS),
                    "custom_id": _maybe(
                        st.one_of(st.text(), st.sampled_from(["player:skip", "player:x"]))
                    ),
                }
            )
        ),
    },
    optional={"user": ANY_JSON, "version": ANY_JSON, "app_permissions": ANY_JSON},
)
