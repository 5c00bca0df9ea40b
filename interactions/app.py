"""The HTTP front door: a FastAPI app built by a factory, one POST route for Discord.

Per request: cap the body, verify the signature, parse, route, answer, and write one log line
(ids, command, outcome, latency; never the token or the body).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from pydantic_core import from_json, to_json

from interactions import responses
from interactions.commands.base import JobSender, Reply, Services
from interactions.context import Interaction, parse_interaction
from interactions.discord_types import InteractionType
from interactions.ratelimit import RateLimiter
from interactions.router import Router, UnsupportedInteraction
from interactions.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureVerifier
from interactions.store_access import FrontDoorStore
from shared.settings import Settings

if TYPE_CHECKING:  # built, and imported, only when waking is configured (bootstrap)
    from interactions.wake import WorkerWaker

log = structlog.get_logger("interactions")

INTERACTION_PATHS = ("/interactions", "/")
SOMETHING_WENT_WRONG = "Something went wrong on our side. Please try again."


class BodyTooLarge(Exception):
    """The request body is over the configured cap."""


def _json(status_code: int, body: dict[str, Any]) -> Response:
    # JSONResponse's bytes (compact, UTF-8), from pydantic-core: a tenth of json.dumps's time.
    content = to_json(body, inf_nan_mode="null")
    return Response(content, status_code=status_code, media_type="application/json")


async def read_capped(request: Request, limit: int) -> bytes:
    """Read the body, refusing (BodyTooLarge) as soon as it is known to exceed limit bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class _Trace:
    """What one request has got to so far: the boundary's answer depends on it."""

    started: float = field(default_factory=time.perf_counter)
    interaction: Interaction | None = None

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


class InteractionEndpoint:
    """The POST handler; everything it needs is injected by create_app."""

    def __init__(self, verifier: SignatureVerifier, router: Router, max_body_bytes: int) -> None:
        self._verifier = verifier
        self._router = router
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        """Answer one request from Discord; nothing escapes as a 500 or a stack trace."""
        trace = _Trace()
        try:
            return await self._handle(request, trace)
        except Exception as exc:  # noqa: BLE001 - the request boundary: log, answer politely
            interaction = trace.interaction
            log.error(
                "interaction.failed",
                error=type(exc).__name__,
                # Frames only: an exception's message may echo the payload (and its token).
                stack="".join(traceback.format_tb(exc.__traceback__)),
                latency_ms=trace.elapsed_ms(),
                **(interaction.log_fields() if interaction else {}),
            )
            if interaction is None:
                return _json(503, {"error": "temporarily unable to handle the interaction"})
            if interaction.type is InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
                return _json(200, responses.autocomplete([]))
            # A verified command or button: the user gets a message, not a spinner.
            return _json(200, responses.ephemeral(SOMETHING_WENT_WRONG))

    def _reject(self, trace: _Trace, status_code: int, reason: str) -> Response:
        log.info(
            "interaction.rejected",
            status=status_code,
            reason=reason,
            latency_ms=trace.elapsed_ms(),
        )
        return _json(status_code, {"error": reason})

    async def _handle(self, request: Request, trace: _Trace) -> Response:
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if not self._verifier.headers_well_formed(signature, timestamp):
            return self._reject(trace, 401, "invalid request signature")
        try:
            body = await read_capped(request, self._max_body_bytes)
        except BodyTooLarge:
            return self._reject(trace, 413, "request body too large")
        if not self._verifier.verify(signature, timestamp, body):
            return self._reject(trace, 401, "invalid request signature")
        try:
            # pydantic-core's parser: twice json's speed, a nesting limit (json.loads recurses
            # until RecursionError), and ValueError for anything that is not JSON text.
            interaction = parse_interaction(from_json(body, cache_strings="keys"))
            trace.interaction = interaction
        except ValueError:  # not JSON (or not UTF-8), and MalformedInteraction
            return self._reject(trace, 400, "malformed interaction")
        if interaction.type is InteractionType.PING:
            reply = Reply(responses.pong(), "pong")
        else:
            try:
                reply = await self._router.dispatch(interaction)
            except UnsupportedInteraction:
                return self._reject(trace, 400, "unsupported interaction type")
        log.info(
            "interaction.handled",
            outcome=reply.outcome,
            latency_ms=trace.elapsed_ms(),
            **interaction.log_fields(),
        )
        return _json(200, reply.body)


def build_router(
    settings: Settings,
    queue: JobSender,
    *,
    store: FrontDoorStore | None = None,
    waker: WorkerWaker | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Router:
    """The command router with its services: shared by the HTTP app and the embedded mode."""
    services = Services(
        queue=queue,
        enqueue_timeout_s=settings.enqueue_timeout_s,
        max_query_length=settings.max_query_length,
        allow_private_sources=settings.allow_private_sources,
        store=store,
        waker=waker,
        wake_timeout_s=settings.wake_timeout_s,
        max_queue_length=settings.max_queue_length,
    )
    return Router(
        services,
        rate_limiter=rate_limiter
        or RateLimiter(limit=settings.rate_limit_commands, window_s=settings.rate_limit_window_s),
        guild_allowlist=settings.guild_allowlist,
    )


def create_app(
    settings: Settings,
    queue: JobSender,
    *,
    store: FrontDoorStore | None = None,
    waker: WorkerWaker | None = None,
    rate_limiter: RateLimiter | None = None,
) -> FastAPI:
    """Build the interactions app; raises ValueError when DISCORD_PUBLIC_KEY is unusable."""
    verifier = SignatureVerifier(
        settings.discord_public_key, max_age_s=settings.signature_max_age_s
    )
    router = build_router(settings, queue, store=store, waker=waker, rate_limiter=rate_limiter)
    endpoint = InteractionEndpoint(verifier, router, settings.max_body_bytes)
    # No docs or schema routes: this app faces the internet and serves Discord only.
    # Nor FastAPI's native OpenTelemetry: nothing here configures a provider, and its check
    # that none is set reads three environment variables on every request.
    telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, telemetry=telemetry)
    # Plain (Starlette) routes: the endpoint takes the raw Request and returns a Response, so
    # FastAPI's dependency and response-model machinery would only add ~80 us per request
    # (and, for a return annotation, ~0.1 s of cold start importing pydantic.v1).
    for path in INTERACTION_PATHS:
        app.add_route(path, endpoint.handle, methods=["POST"], include_in_schema=False)
    app.add_route("/healthz", _healthz, methods=["GET"], include_in_schema=False)
    return app


async def _healthz(request: Request) -> Response:
    return _json(200, {"status": "ok"})
