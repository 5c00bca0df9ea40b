"""The log redactor: no bot token, interaction token or webhook URL survives, whoever logs it."""

from __future__ import annotations

import logging

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
