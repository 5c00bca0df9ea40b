"""Telling users what happened: the deferred reply, follow-ups and channel notices.

The deferred "thinking" message is completed through the interaction's webhook (valid for
15 minutes), and a long job (a big playlist) shows its progress there first; anything later
(the now-playing message, errors of queued tracks) goes to the text channel with the bot
token. Both go through discord.py's HTTP client, so Discord's rate limits (429
``retry_after``, buckets, the global limit) and its 5xx retries are handled in one place.
A report that can't be delivered is logged and dropped: it never fails the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import discord
import structlog
from discord.http import Route

from shared.jobs import AnyJob, JobEnvelope

log = structlog.get_logger(__name__)

MAX_CONTENT = 2000
EPHEMERAL = 1 << 6
NO_MENTIONS: dict[str, Any] = {"parse": []}
_ATTEMPTS = 3
MIN_REPLY_AGE_S = 0.5
# Discord's JSON error code for a webhook (or a not yet acknowledged interaction) it can't find.
UNKNOWN_WEBHOOK = 10015
_MAX_WAIT_S = 10.0


@dataclass(frozen=True)
class Reply:
    """What the requester is told when their job is done (or could not be)."""

    text: str
    ephemeral: bool = False
    # Message components (action rows) to put on the message, e.g. /search's select menu.
    components: tuple[dict[str, Any], ...] = ()


class Reporter(Protocol):
    """How the worker talks back to Discord users."""

    async def complete(self, job: AnyJob | JobEnvelope, reply: Reply) -> None:
        """Replace the deferred 'thinking' message of a job (or of a body only its envelope
        could be read from) with the reply."""

    async def notify(self, channel_id: str, text: str) -> None:
        """Post a notice to a text channel with the bot token."""


class EditOutcome(StrEnum):
    """What came of editing a message the bot posted earlier."""

    EDITED = "edited"
    GONE = "gone"  # 404: someone deleted it (or its channel); post a new one
    FAILED = "failed"  # anything else (403, 5xx past retries): keep it, try again next time


class ChannelMessages(Protocol):
    """Messages the bot posts to a channel with its token and edits later (the now-playing
    message): unlike the interaction webhook, these don't expire after 15 minutes."""

    async def post_message(self, channel_id: str, body: dict[str, Any]) -> str | None:
        """Post a message; its id, or None when it could not be posted."""

    async def edit_message(
        self, channel_id: str, message_id: str, body: dict[str, Any]
    ) -> EditOutcome:
        """Edit a message the bot posted."""

    async def delete_message(self, channel_id: str, message_id: str) -> bool:
        """Delete a message the bot posted; False when that failed."""


class SessionReporter(Reporter, ChannelMessages, Protocol):
    """What a guild session reports through: notices, its now-playing message, progress."""

    async def progress(self, job: AnyJob, text: str) -> None:
        """Show how a long job is going in its deferred message (the reply comes later)."""


def truncate(text: str, limit: int = MAX_CONTENT) -> str:
    """Cut text to Discord's message limit, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reply_delay_s(created_at: datetime, now: datetime) -> float:
    """How long to hold a reply to a job this fresh (0 to MIN_REPLY_AGE_S).

    The front door queues the job before it answers Discord, so a job done within
    milliseconds (a refusal, a /skip) could follow up before Discord has taken the deferral
    and get "Unknown Webhook".
    """
    age = (now - created_at).total_seconds()
    return min(MIN_REPLY_AGE_S, max(0.0, MIN_REPLY_AGE_S - age))


def _retry_after_s(exc: discord.HTTPException) -> float:
    header = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return min(_MAX_WAIT_S, max(0.0, float(header))) if header else 1.0
    except ValueError:
        return 1.0


async def deliver(
    what: str, send: Callable[[], Awaitable[object]], *, sleep: Callable[[float], Awaitable[None]]
) -> bool:
    """Run one Discord request, retrying 429/5xx a bounded number of times; False if given up.

    discord.py already sleeps out 429s that carry Discord's ``Via`` header and retries
    500/502/504; this covers what it raises instead (a bare 429, a 503, a timeout) and turns
    401/403/404 (token expired, message or channel gone) into a logged give-up. One 404 is
    worth waiting for: "Unknown Webhook" right after the interaction, when the job (queued
    before the front door answered) is done before Discord has taken the deferral.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            await send()
            return True
        except discord.HTTPException as exc:
            status = exc.status
            if status == 429 and attempt < _ATTEMPTS:
                delay = _retry_after_s(exc)
            elif (status >= 500 or exc.code == UNKNOWN_WEBHOOK) and attempt < _ATTEMPTS:
                delay = 0.5 * 2**attempt
            else:
                log.warning("report.gave_up", what=what, status=status, attempt=attempt)
                return False
        except (TimeoutError, OSError) as exc:
            if attempt == _ATTEMPTS:
                log.warning("report.gave_up", what=what, error=type(exc).__name__)
                return False
            delay = 0.5 * 2**attempt
        log.info("report.retrying", what=what, attempt=attempt, delay_s=delay)
        await sleep(delay)
    return False


class DiscordReporter:
    """A Reporter over a discord.py client's HTTP session."""

    def __init__(
        self,
        client: discord.Client,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._sleep = sleep

    async def complete(self, job: AnyJob | JobEnvelope, reply: Reply) -> None:
        """Edit @original; an ephemeral reply replaces it with an ephemeral follow-up.

        The front door defers publicly (it can't know the outcome), and after a deferral the
        first follow-up only fills the public placeholder: so delete the placeholder first,
        then send the ephemeral follow-up. If the delete fails, edit the placeholder instead,
        so the user is told either way.
        """
        await self._sleep(reply_delay_s(job.created_at, datetime.now(UTC)))
        http = self._client.http
        body: dict[str, Any] = {"content": truncate(reply.text), "allowed_mentions": NO_MENTIONS}
        if reply.components:
            body["components"] = list(reply.components)
        params = {"webhook_id": job.application_id, "webhook_token": job.interaction_token}
        original = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
        bound = log.bind(**job.log_fields())
        if reply.ephemeral:
            delete = Route("DELETE", original, **params)
            if await deliver("delete_original", lambda: http.request(delete), sleep=self._sleep):
                follow_up = Route("POST", "/webhooks/{webhook_id}/{webhook_token}", **params)
                ephemeral = {**body, "flags": EPHEMERAL}
                sent = await deliver(
                    "ephemeral_follow_up",
                    lambda: http.request(follow_up, json=ephemeral),
                    sleep=self._sleep,
                )
                if sent:
                    bound.info("report.completed", ephemeral=True)
                return
        route = Route("PATCH", original, **params)
        if await deliver(
            "edit_original", lambda: http.request(route, json=body), sleep=self._sleep
        ):
            bound.info("report.completed")

    async def notify(self, channel_id: str, text: str) -> None:
        """Send a message to the channel as the bot."""
        channel = self._client.get_partial_messageable(int(channel_id))
        await deliver(
            "channel_notice",
            lambda: channel.send(truncate(text), allowed_mentions=discord.AllowedMentions.none()),
            sleep=self._sleep,
        )

    async def progress(self, job: AnyJob, text: str) -> None:
        """Edit @original with a progress line; the job's reply replaces it when done."""
        await self._sleep(reply_delay_s(job.created_at, datetime.now(UTC)))
        route = Route(
            "PATCH",
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            webhook_id=job.application_id,
            webhook_token=job.interaction_token,
        )
        body = {"content": truncate(text), "allowed_mentions": NO_MENTIONS}
        await deliver(
            "progress", lambda: self._client.http.request(route, json=body), sleep=self._sleep
        )

    async def post_message(self, channel_id: str, body: dict[str, Any]) -> str | None:
        """POST /channels/{id}/messages; the new message's id."""
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        sent: list[Any] = []

        async def send() -> None:
            sent.append(await self._client.http.request(route, json=body))

        if not await deliver("post_message", send, sleep=self._sleep):
            return None
        message_id = sent[-1].get("id") if isinstance(sent[-1], dict) else None
        return str(message_id) if message_id else None

    async def edit_message(
        self, channel_id: str, message_id: str, body: dict[str, Any]
    ) -> EditOutcome:
        """PATCH /channels/{id}/messages/{id}; GONE when Discord no longer has it."""
        route = Route(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        gone = False

        async def send() -> None:
            nonlocal gone
            try:
                await self._client.http.request(route, json=body)
            except discord.NotFound:
                gone = True  # not worth retrying: deleted stays deleted

        if not await deliver("edit_message", send, sleep=self._sleep):
            return EditOutcome.FAILED
        return EditOutcome.GONE if gone else EditOutcome.EDITED

    async def delete_message(self, channel_id: str, message_id: str) -> bool:
        """DELETE /channels/{id}/messages/{id} (already gone counts as deleted)."""
        route = Route(
            "DELETE",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )

        async def send() -> None:
            try:
                await self._client.http.request(route)
            except discord.NotFound:
                return

        return await deliver("delete_message", send, sleep=self._sleep)
