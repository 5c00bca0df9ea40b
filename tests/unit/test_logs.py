"""The log redactor: no bot token, interaction token or webhook URL survives, whoever logs it."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from typing import Any

import pytest
import structlog

from shared.logs import REDACTED, Redactor, configure_logging

BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OnNlY3JldHN0dWZm"
WEBHOOK_URL = (
    f"https://discord.com/api/v10/webhooks/1234567890/{INTERACTION_TOKEN}/messages/@original"
)


def test_scrub_hides_every_secret_shape() -> None:
    redactor = Redactor([BOT_TOKEN])
    text = f"token={BOT_TOKEN} url={WEBHOOK_URL} raw={INTERACTION_TOKEN} auth=Bot {BOT_TOKEN}"
    scrubbed = redactor.scrub(text)
    assert BOT_TOKEN not in scrubbed
    assert INTERACTION_TOKEN not in scrubbed
    assert "/webhooks/1234567890/" in scrubbed  # the id stays useful to the operator


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        # Each shape on its own, with no known secret to match: the shape alone must trigger.
        ("auth=Bot abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnopqrstuvwxyz0123"),
        ("POST /api/v10/webhooks/42/not-base64-token-xyz/messages", "not-base64-token-xyz"),
        ("POST /api/v10/interactions/42/cb-token-abc/callback", "cb-token-abc"),
        (f"raw {INTERACTION_TOKEN}", INTERACTION_TOKEN),
    ],
)
def test_each_token_shape_is_redacted_without_known_secrets(text: str, leak: str) -> None:
    assert leak not in Redactor().scrub(text)


def test_text_without_markers_is_returned_unchanged() -> None:
    text = "guild 123 played track abc (Bots are welcome) at /api/v10/channels/1/messages"
    assert Redactor(["some-known-secret"]).scrub(text) == text


def test_nested_values_and_secret_keys_are_redacted() -> None:
    redactor = Redactor([BOT_TOKEN])
    event = redactor(
        None,
        "info",
        {
            "event": "x",
            "token": "anything",
            "payload": {"headers": {"Authorization": f"Bot {BOT_TOKEN}"}, "urls": [WEBHOOK_URL]},
        },
    )
    assert event["token"] == REDACTED
    assert event["payload"]["headers"]["Authorization"] == REDACTED
    assert INTERACTION_TOKEN not in str(event)


def test_stdlib_and_structlog_output_are_both_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN logging configured with the bot token as a secret
    configure_logging(secrets=[BOT_TOKEN], log_format="json", level="INFO")
    try:
        # WHEN a library logs through stdlib and our code through structlog
        logging.getLogger("aiohttp.client").warning("POST %s failed", WEBHOOK_URL)
        structlog.get_logger("t").info("followup.sent", url=WEBHOOK_URL, note=BOT_TOKEN)
        exc_text = ""
        try:
            raise RuntimeError(f"boom {INTERACTION_TOKEN}")
        except RuntimeError:
            structlog.get_logger("t").exception("failed")
            exc_text = "raised"
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    # THEN no secret appears in anything written
    err = capsys.readouterr().err
    assert exc_text and "followup.sent" in err and "POST" in err
    for secret in (BOT_TOKEN, INTERACTION_TOKEN):
        assert secret not in err


class Opaque:
    """A value the renderer can only repr: its text is not a string value of the event."""

    def __repr__(self) -> str:
        return f"Opaque(url={WEBHOOK_URL!r})"


def _configure_into(stream: io.StringIO, **kwargs: Any) -> None:
    configure_logging(stream=stream, **{"log_format": "json", "level": "INFO", **kwargs})


def test_own_events_and_library_records_share_one_redacted_json_format(
    restore_logging: None,
) -> None:
    # GIVEN JSON logging into a buffer, with the bot token (and one with JSON-escaped characters)
    quoted = 'pass"word\\with-escapes'
    out = io.StringIO()
    _configure_into(out, secrets=[BOT_TOKEN, quoted])
    # WHEN our code logs secrets in every shape (deep, as a repr, escaped) and a library logs one
    deep: dict[str, Any] = {"url": WEBHOOK_URL}
    for _ in range(12):
        deep = {"inner": deep}
    structlog.get_logger("ours").info(
        "followup.sent", deep=deep, thing=Opaque(), note=f"Bot {BOT_TOKEN}", quoted=quoted
    )
    logging.getLogger("aiohttp.client").warning("POST %s failed", WEBHOOK_URL)
    # THEN both are JSON lines with the same field names, and no secret survives in any form
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "followup.sent",
        f"POST {WEBHOOK_URL.replace(INTERACTION_TOKEN, REDACTED)} failed",
    ]
    for line in lines:
        assert {"event", "level", "logger", "timestamp"} <= line.keys()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", line["timestamp"])
    assert [line["level"] for line in lines] == ["info", "warning"]
    assert [line["logger"] for line in lines] == ["ours", "aiohttp.client"]
    text = out.getvalue()
    for secret in (BOT_TOKEN, INTERACTION_TOKEN, json.dumps(quoted)[1:-1]):
        assert secret not in text
    assert "/webhooks/1234567890/" in text  # the id stays for the operator


def test_secret_keys_are_hidden_at_any_depth(restore_logging: None) -> None:
    # GIVEN JSON logging / WHEN secret-named keys carry values no token shape would catch
    out = io.StringIO()
    _configure_into(out)
    structlog.get_logger("ours").info(
        "request", password="hunter2-hunter2", headers=[{"Authorization": "Basic abc123xyz"}]
    )
    # THEN their values are replaced, the keys kept
    line = json.loads(out.getvalue())
    assert line["password"] == REDACTED
    assert line["headers"] == [{"Authorization": REDACTED}]


def test_level_filters_own_events_and_library_records(restore_logging: None) -> None:
    # GIVEN logging at WARNING
    out = io.StringIO()
    _configure_into(out, level="WARNING")
    # WHEN info and warning events come from our code and from a library
    ours = structlog.get_logger("ours")
    ours.info("ours.info")
    ours.debug("ours.debug")
    ours.warning("ours.warning")
    logging.getLogger("botocore").info("library.info")
    logging.getLogger("botocore").error("library.error")
    # THEN only the warning and above are written
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events == ["ours.warning", "library.error"]


def test_console_format_is_redacted_too(restore_logging: None) -> None:
    # GIVEN the terminal format / WHEN our code logs a webhook URL and raises with a token
    out = io.StringIO()
    _configure_into(out, log_format="console", secrets=[BOT_TOKEN])
    log = structlog.get_logger("ours")
    log.info("followup.sent", url=WEBHOOK_URL, auth=f"Bot {BOT_TOKEN}")
    try:
        raise RuntimeError(f"boom {INTERACTION_TOKEN}")
    except RuntimeError:
        log.exception("failed")
    # THEN the lines are readable key=value text without any secret
    text = out.getvalue()
    assert "followup.sent" in text and "RuntimeError: boom" in text
    assert not text.lstrip().startswith("{")
    assert BOT_TOKEN not in text and INTERACTION_TOKEN not in text


def test_default_output_follows_stderr_as_it_is_when_writing(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN logging configured for stderr and a logger already used (so cached)
    configure_logging(log_format="json")
    log = structlog.get_logger("ours")
    log.info("first")
    first = capsys.readouterr().err
    # WHEN stderr is swapped afterwards (a test runner's capture, a supervisor's redirect)
    swapped = io.StringIO()
    real, sys.stderr = sys.stderr, swapped
    try:
        log.info("second")
    finally:
        sys.stderr = real
    # THEN each line went to the stderr of its moment, never to a stale stream
    assert '"event": "first"' in first
    assert '"event": "second"' in swapped.getvalue()
