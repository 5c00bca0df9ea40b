"""The end-to-end suites' secrets check itself: it must find what it is looking for."""

from __future__ import annotations

import logging

from tests.security.leaks import Leak, bot_side, find_leaks, render

TOKEN = "aW50ZXJhY3Rpb246MTMwMDA6c2VjcmV0c2VjcmV0c2VjcmV0"
BOT_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE.bottokenbottokenbottoken"
SECRETS = {TOKEN: "interaction token of 13000", BOT_TOKEN: "bot token"}


def test_a_webhook_url_in_stdout_is_found() -> None:
    out = f"PATCH https://discord.test/api/v10/webhooks/1300/{TOKEN}/messages/@original 200"
    assert find_leaks({"stdout": out}, SECRETS) == [Leak("interaction token of 13000", "stdout")]


def test_a_bot_token_in_a_log_record_argument_is_found() -> None:
    record = logging.makeLogRecord(
        {"name": "discord.http", "msg": "auth %s", "args": (f"Bot {BOT_TOKEN}",)}
    )
    assert bot_side(record)
    assert find_leaks({"records": render(record)}, SECRETS) == [Leak("bot token", "records")]


def test_a_token_in_an_exception_or_extra_field_is_found() -> None:
    try:
        raise ValueError(f"bad url /interactions/1/{TOKEN}/callback")
    except ValueError as exc:
        record = logging.makeLogRecord(
            {"name": "voice_worker", "msg": "failed", "exc_info": (ValueError, exc, None)}
        )
    extra = logging.makeLogRecord({"name": "x", "msg": "m", "headers": {"auth": BOT_TOKEN}})
    leaks = find_leaks({"a": render(record), "b": render(extra)}, SECRETS)
    assert {leak.where for leak in leaks} == {"a", "b"}


def test_clean_output_and_the_fakes_own_logs_pass() -> None:
    fake_side = logging.makeLogRecord({"name": "fake_discord.rest", "msg": f"POST /{TOKEN}"})
    assert not bot_side(fake_side)
    assert find_leaks({"stdout": "interaction.handled outcome=enqueued"}, SECRETS) == []


def test_tokens_the_production_redactor_scrubs_pass_and_others_do_not() -> None:
    from shared.logs import Redactor  # noqa: PLC0415

    scrub = Redactor().scrub
    # discord.py logs the webhook URL of a 429: the redactor hides the token, so that passes.
    shaped = f"We are being rate limited. PATCH /webhooks/1300/{TOKEN}/messages/@original"
    assert find_leaks({"records": shaped}, SECRETS, scrub=scrub) == []
    # A token in a shape the redactor does not know is still a leak.
    odd = "abcdefghijklmnopqrstuvwxyz0123456789"
    assert find_leaks({"x": f"token={odd[::-1]}"}, {odd[::-1]: "interaction"}, scrub=scrub)
    # The bot token is looked for in the raw text, redactor or not.
    assert find_leaks({"x": f"Bot {BOT_TOKEN}"}, SECRETS, scrub=scrub) == [Leak("bot token", "x")]
