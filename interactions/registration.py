"""Registering the slash commands with Discord (bulk overwrite), for `musicbot commands register`.

Not used by the Lambda: httpx is imported here only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from interactions.commands.definitions import bulk_overwrite_payload
from shared.settings import Settings

USER_AGENT = "DiscordBot (https://github.com/musicbot/musicbot, 0.1.0)"
_MAX_DETAIL = 1500


class RegistrationError(RuntimeError):
    """Discord did not take the commands; the message is safe to show (no token)."""


@dataclass(frozen=True)
class Registered:
    """What Discord accepted."""

    count: int
    scope: str


def commands_url(api_base: str, application_id: str, guild_id: str | None) -> str:
    """Global commands, or one guild's (guild commands update instantly: good for testing)."""
    base = f"{api_base.rstrip('/')}/applications/{application_id}"
    return f"{base}/guilds/{guild_id}/commands" if guild_id else f"{base}/commands"


def register_commands(
    settings: Settings, *, guild_id: str | None = None, timeout_s: float = 15.0
) -> Registered:
    """PUT the command definitions; raise RegistrationError on any failure."""
    token = settings.bot_token
    if guild_id is not None and not guild_id.isdigit():
        raise RegistrationError(f"--guild must be a numeric Discord id, not {guild_id!r}")
    payload = bulk_overwrite_payload(max_query_length=settings.max_query_length)
    url = commands_url(settings.discord_api_base, settings.discord_application_id, guild_id)
    verify: str | bool = settings.discord_ca_file or True
    try:
        with httpx.Client(timeout=timeout_s, verify=verify) as client:
            response = client.put(
                url,
                json=payload,
                headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT},
            )
    except httpx.HTTPError as exc:
        raise RegistrationError(f"could not reach Discord ({type(exc).__name__})") from None
    if not response.is_success:
        detail = _scrub(_error_detail(response), token)
        raise RegistrationError(f"Discord answered HTTP {response.status_code}: {detail}")
    scope = f"guild {guild_id}" if guild_id else "global"
    return Registered(count=len(payload), scope=scope)


def _error_detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.reason_phrase or "no details"
    if not isinstance(body, dict):
        return "no details"
    parts = [str(body.get("message", "")).strip()]
    if "code" in body:
        parts.append(f"(code {body['code']})")
    if "retry_after" in body:
        parts.append(f"retry after {body['retry_after']} s")
    if "errors" in body:
        parts.append(json.dumps(body["errors"])[:_MAX_DETAIL])
    return " ".join(part for part in parts if part) or "no details"


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "[redacted]") if token else text
