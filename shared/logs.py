"""structlog set-up once per process: JSON in the cloud, readable on a terminal, redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Literal

import structlog

REDACTED = "[redacted]"

# Interaction tokens are base64 of "interaction:<id>:..." and so always start like this.
_INTERACTION_PREFIX_B64 = "aW50ZXJhY3Rpb246"
_INTERACTION_TOKEN = re.compile(_INTERACTION_PREFIX_B64 + r"[A-Za-z0-9_\-\.=]+")
# A webhook URL (or path) carries its token: keep the id, hide the token.
_WEBHOOK_PATH = re.compile(r"(/webhooks/\d+/)[A-Za-z0-9_\-\.]+")
_INTERACTION_CALLBACK = re.compile(r"(/interactions/\d+/)[A-Za-z0-9_\-\.]+")
_BOT_AUTH = re.compile(r"(Bot\s+)[A-Za-z0-9_\-\.]{20,}")
_SECRET_KEYS = frozenset(
    {"token", "interaction_token", "bot_token", "authorization", "secret_key", "password"}
)


class Redactor:
    """A structlog processor that scrubs known secrets and token shapes from every value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """Return text with every secret and token shape replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        # Every log line passes here: a substring test is far cheaper than a regex scan, and
        # each token shape carries a fixed marker, so the regexes run only when one is there.
        if _INTERACTION_PREFIX_B64 in text:
            text = _INTERACTION_TOKEN.sub(REDACTED, text)
        if "/webhooks/" in text:
            text = _WEBHOOK_PATH.sub(rf"\g<1>{REDACTED}", text)
        if "/interactions/" in text:
            text = _INTERACTION_CALLBACK.sub(rf"\g<1>{REDACTED}", text)
        if "Bot" in text:
            text = _BOT_AUTH.sub(rf"\g<1>{REDACTED}", text)
        return text

    def _clean(self, value: Any, depth: int = 0) -> Any:
        if depth > 8:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {
                key: REDACTED if str(key).lower() in _SECRET_KEYS else self._clean(item, depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(item, depth + 1) for item in value]
        if isinstance(value, BaseException):
            return self.scrub(repr(value))
        return value

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            if key.lower() in _SECRET_KEYS:
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self._clean(event_dict[key])
        return event_dict


def configure_logging(
    *,
    secrets: Iterable[str] = (),
    log_format: Literal["auto", "json", "console"] = "auto",
    level: str = "INFO",
) -> None:
    """Route structlog and stdlib logging (discord.py, aiohttp) through one redacting pipeline."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    redactor = Redactor(secrets)
    enrich: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *enrich,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # Redaction runs last, on every record, whichever library logged it.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=enrich,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
