"""HTTP delivery of interactions, signed like Discord's (Ed25519 over timestamp + body)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import aiohttp

from fake_discord.core import Core
from fake_discord.interactions import InteractionRecord

_log = logging.getLogger(__name__)

USER_AGENT = "Discord-Interactions/1.0 (+https://discord.com)"
RESPONSE_DEADLINE_S = 3.0


def signed_headers(
    core: Core, body: bytes, *, timestamp: str | None = None, tamper: bool = False
) -> dict[str, str]:
    """Discord's request headers; ``tamper`` makes the signature invalid (endpoint probes)."""
    timestamp = timestamp or str(int(time.time()))
    signature = core.signing_key.sign(timestamp.encode() + body).signature
    if tamper:
        signature = bytes([signature[0] ^ 0xFF]) + signature[1:]
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Signature-Ed25519": signature.hex(),
        "X-Signature-Timestamp": timestamp,
    }


class HttpDelivery:
    """POSTs interactions to an interactions endpoint URL and records its answer."""

    def __init__(self, core: Core, session: aiohttp.ClientSession) -> None:
        self._core = core
        self._session = session

    async def deliver(self, record: InteractionRecord, url: str) -> InteractionRecord:
        """POST the interaction; apply an in-body response under the usual rules."""
        core = self._core
        await core.spec.ensure_loaded()  # the answer is validated against the spec
        body = json.dumps(record.payload, separators=(",", ":")).encode()
        record.delivered_via = "http"
        started = time.monotonic()
        try:
            async with self._session.post(
                url,
                data=body,
                headers=signed_headers(core, body),
                timeout=aiohttp.ClientTimeout(total=RESPONSE_DEADLINE_S),
            ) as response:
                record.http_status = response.status
                text = await response.text()
                content_type = response.content_type
        except TimeoutError:
            record.http_error = f"no response within {RESPONSE_DEADLINE_S:g} s"
            core.recorder.fail("interaction", record.http_error, {"interaction_id": record.id})
            return record
        except aiohttp.ClientError as exc:
            record.http_error = f"{type(exc).__name__}: {exc}"
            core.recorder.fail(
                "interaction",
                "interactions endpoint unreachable",
                {"interaction_id": record.id, "error": record.http_error},
            )
            return record
        finally:
            record.http_elapsed_s = time.monotonic() - started
            core.changes.pulse()
        self._apply(record, text, content_type)
        core.changes.pulse()
        return record

    def _apply(self, record: InteractionRecord, text: str, content_type: str) -> None:
        core = self._core
        status = record.http_status or 0
        if not 200 <= status < 300:
            core.recorder.fail(
                "interaction",
                f"interactions endpoint answered {status}",
                {"interaction_id": record.id, "body": text[:500]},
            )
            return
        if not text:
            if not record.acknowledged:
                core.recorder.fail(
                    "interaction",
                    "empty HTTP answer and no callback",
                    {"interaction_id": record.id},
                )
            return
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            core.recorder.fail(
                "interaction",
                "HTTP answer is not JSON",
                {"interaction_id": record.id, "body": text[:500]},
            )
            return
        record.http_body = parsed
        if content_type != "application/json":
            core.recorder.fail(
                "interaction",
                f"HTTP answer Content-Type {content_type!r}",
                {"interaction_id": record.id},
            )
        operation = core.spec.operation("create_interaction_response")
        errors = core.spec.validate_body(operation, "application/json", parsed)
        if errors:
            core.recorder.fail(
                "interaction",
                "HTTP answer rejected by the spec",
                {"interaction_id": record.id, "errors": errors},
            )
            return
        reply = core.ledger.respond(record, parsed, via="http")
        if reply.failure is not None:
            core.recorder.fail(
                "interaction", reply.failure, {"interaction_id": record.id, "response": reply.body}
            )

    async def check_endpoint(self, url: str) -> list[str]:
        """Discord's URL check: a signed PING must get ``{"type": 1}``, a forged one a 401."""
        problems: list[str] = []
        ping = self._core.ledger.mint_ping()
        body = json.dumps(ping.payload, separators=(",", ":")).encode()
        for tamper in (False, True):
            try:
                async with self._session.post(
                    url,
                    data=body,
                    headers=signed_headers(self._core, body, tamper=tamper),
                    timeout=aiohttp.ClientTimeout(total=RESPONSE_DEADLINE_S),
                ) as response:
                    status, text = response.status, await response.text()
            except (TimeoutError, aiohttp.ClientError) as exc:
                problems.append(f"{'forged' if tamper else 'valid'} PING failed: {exc!r}")
                continue
            if tamper and status != 401:
                problems.append(f"forged signature answered {status}, expected 401")
            if not tamper:
                try:
                    answer = json.loads(text)
                except ValueError:
                    answer = None
                if status != 200 or answer != {"type": 1}:
                    problems.append(f"PING answered {status} {text[:200]!r}, expected type 1")
        for problem in problems:
            self._core.recorder.fail("interaction", problem, {"url": url})
        return problems
