"""structlog set-up once per process: JSON in the cloud, readable on a terminal, redacted.

Two paths, one format. The project's own events (structlog loggers) go straight from a
level-filtering bound logger to a one-line writer: no stdlib LogRecord, handler or formatter
on the way (on the interactions app's warm path that was a third of a PING's time). Libraries
that log through stdlib (discord.py, aiohttp, botocore, uvicorn) keep the root handler with
structlog's ProcessorFormatter. Both end in the same redacting renderer: secret keys are
hidden in the event dict, then every token shape and known secret is scrubbed from the
rendered line itself, so nothing written escapes redaction, however deeply it was nested.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Literal, TextIO

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
# Values that hold no keys to hide: skipped without an isinstance chain.
_FLAT = frozenset({str, int, float, bool, type(None)})

EventDict = MutableMapping[str, Any]
Renderer = Callable[[Any, str, EventDict], str]


class Redactor:
    """Scrubs known secrets and token shapes: from text, from an event dict, from a renderer."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = {s for s in secrets if len(s) >= 8}
        # As a rendered line spells them too: JSON- or repr-escaped (e.g. a "/" or a quote).
        known |= {json.dumps(s)[1:-1] for s in known} | {repr(s)[1:-1] for s in known}
        self._secrets = sorted(known, key=len, reverse=True)

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

    def __call__(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        """A processor scrubbing every value of the event dict (secret keys: hidden whole)."""
        for key in list(event_dict):
            if key.lower() in _SECRET_KEYS:
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self._clean(event_dict[key])
        return event_dict

    def _hide(self, value: Any, depth: int) -> Any:
        if type(value) in _FLAT or depth > 8:
            return value
        if isinstance(value, Mapping):
            return {
                key: REDACTED if str(key).lower() in _SECRET_KEYS else self._hide(item, depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self._hide(item, depth + 1) for item in value]
        return value

    def hide_secret_keys(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        """A processor hiding the value under any secret-named key, nested up to 8 levels.

        Only keys: values are scrubbed once rendered (see scrubbing), which is cheaper than
        scanning each value and also covers what the renderer adds (reprs, tracebacks).
        """
        for key, value in event_dict.items():
            if key.lower() in _SECRET_KEYS:
                event_dict[key] = REDACTED
            elif type(value) not in _FLAT:
                event_dict[key] = self._hide(value, 1)
        return event_dict

    def scrubbing(self, renderer: Renderer) -> Renderer:
        """The renderer, with the rendered line scrubbed: the last processor of a chain."""

        def render(logger: Any, method_name: str, event_dict: EventDict) -> str:
            return self.scrub(renderer(logger, method_name, event_dict))

        return render


class Stamp:
    """Adds level, logger name and an ISO UTC timestamp in one processor (the native path's).

    Same fields and spelling as structlog's add_log_level, add_logger_name and TimeStamper
    (microseconds always written); the date and time are formatted once a second.
    """

    _ALIASES = {"exception": "error", "warn": "warning"}

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")  # one tuple: swapped whole across threads

    def __call__(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        event_dict["level"] = self._ALIASES.get(method_name, method_name)
        event_dict["logger"] = logger.name
        now = time.time()
        whole = int(now)
        second, prefix = self._second
        if whole != second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, prefix)
        event_dict["timestamp"] = f"{prefix}.{int((now - whole) * 1_000_000):06d}Z"
        return event_dict


class LineLogger:
    """Writes each rendered event as one line, flushed (the structlog-native output)."""

    def __init__(self, name: str, stream: TextIO | None, lock: threading.Lock) -> None:
        self.name = name  # for structlog.stdlib.add_logger_name
        self._stream = stream
        self._lock = lock

    def msg(self, message: str) -> None:
        """Write one line: to the configured stream, else to sys.stderr as it is now."""
        # sys.stderr looked up per line, like print(): a logger cached before a test (or a
        # runner) swaps stderr keeps writing to the live stream, never to a closed one.
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class LineLoggerFactory:
    """structlog's logger factory for LineLogger: `structlog.get_logger(name)` names it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        # One lock per output: lines written from several threads never interleave.
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> LineLogger:
        return LineLogger(str(args[0]) if args else "", self._stream, self._lock)


def _json_fallback(value: Any) -> Any:
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


def json_renderer() -> Renderer:
    """JSON lines with structlog's JSONRenderer's spelling, from one reused encoder."""
    # json.dumps(..., default=...) builds a new encoder per call; this builds one per process.
    encode = json.JSONEncoder(default=_json_fallback).encode

    def render(logger: Any, method_name: str, event_dict: EventDict) -> str:
        return encode(event_dict)

    return render


def configure_logging(
    *,
    secrets: Iterable[str] = (),
    log_format: Literal["auto", "json", "console"] = "auto",
    level: str = "INFO",
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging (discord.py, aiohttp) to one redacted output.

    stream: where lines go (default: sys.stderr, looked up when each line is written).
    Loggers are cached on first use: call this once per process, before logging.
    """
    output = stream or sys.stderr
    use_json = log_format == "json" or (log_format == "auto" and not output.isatty())
    redactor = Redactor(secrets)
    render = redactor.scrubbing(
        json_renderer() if use_json else structlog.dev.ConsoleRenderer(colors=output.isatty())
    )
    enrich: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            Stamp(),
            structlog.processors.format_exc_info,
            redactor.hide_secret_keys,
            render,
        ],
        logger_factory=LineLoggerFactory(stream),
        # Events below the level cost one no-op call: the filter is the bound method itself.
        wrapper_class=structlog.make_filtering_bound_logger(level.upper()),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=enrich,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor.hide_secret_keys,
            render,
        ],
    )
    handler = logging.StreamHandler(output)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
