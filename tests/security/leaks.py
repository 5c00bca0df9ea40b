"""Find secrets in captured log output: the bot token, interaction tokens and webhook URLs.

Used by an autouse fixture of the end-to-end suite (tests/e2e/conftest.py); the fake Discord
knows every token it issued. A webhook or callback URL carries its token, so finding the token
finds the URL too, in any spelling of the URL around it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fake_discord.server import FakeDiscord

# The fake's own loggers and the access log of its servers legitimately see tokens in paths.
FAKE_SIDE_LOGGERS = ("fake_discord", "aiohttp.access", "aiohttp.server", "aiohttp.web")
# Shorter values could match by accident (and no real token is this short).
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Leak:
    """One secret found: what kind, and where (never the secret itself)."""

    kind: str
    where: str


def issued_secrets(fakes: Iterable[FakeDiscord]) -> dict[str, str]:
    """Every token the fakes issued, mapped to its kind."""
    secrets: dict[str, str] = {}
    for fake in fakes:
        secrets[fake.bot_token] = BOT_TOKEN
        for record in fake.core.ledger.by_id.values():
            secrets[record.token] = f"interaction token of {record.id}"
    return {value: kind for value, kind in secrets.items() if len(value) >= MIN_SECRET_LENGTH}


BOT_TOKEN = "bot token"


def bot_side(record: logging.LogRecord) -> bool:
    """Whether a stdlib log record came from the bot (not from the fake Discord's side)."""
    return not record.name.startswith(FAKE_SIDE_LOGGERS)


def render(record: logging.LogRecord) -> str:
    """Everything a handler could write for a record: message, arguments, traceback."""
    parts = [record.getMessage()]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(repr(record.exc_info[1]))
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        parts.append(record.stack_info)
    parts.extend(f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD_ATTRS)
    return "\n".join(parts)


_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def find_leaks(
    outputs: dict[str, str],
    secrets: dict[str, str],
    *,
    scrub: Callable[[str], str] | None = None,
) -> list[Leak]:
    """Each (secret kind, output name) pair where a secret appears.

    ``scrub`` is the production log pipeline's redaction of token shapes (shared.logs): the
    in-process test stack does not configure logging, so interaction tokens are looked for in
    what that redaction would let through (a token in a shape it misses is still a leak). The
    bot token is looked for in the raw output: it must never reach a log call at all.
    """
    leaks: list[Leak] = []
    for where, text in outputs.items():
        scrubbed = scrub(text) if scrub is not None else text
        for secret, kind in secrets.items():
            if secret in (text if kind == BOT_TOKEN else scrubbed):
                leaks.append(Leak(kind, where))
    return leaks
