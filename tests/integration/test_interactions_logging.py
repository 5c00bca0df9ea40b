"""Logs: one structured line per interaction, and never the interaction token or the body."""

from __future__ import annotations

import json

import pytest

from interactions.lambda_entry import build_container
from tests.fixtures_aws import MotoServer
from tests.fixtures_interactions import (
    LambdaDoor,
    LambdaRuntime,
    Signer,
    encode,
    make_settings,
    payload,
    with_options,
)

# Not shaped like a real token, so only our discipline (not the redactor) keeps it out.
PLAIN_TOKEN = "plain-token-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize("queue", ["memory", "missing-sqs"])
async def test_token_and_body_never_reach_the_logs(
    signer: Signer,
    moto_server: MotoServer,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    queue: str,
) -> None:
    # GIVEN the Lambda container with DEBUG JSON logs (enqueue succeeding, or failing)
    overrides: dict[str, object] = {"log_level": "DEBUG", "rate_limit_commands": 2}
    if queue == "missing-sqs":
        overrides["jobs_queue_url"] = f"{moto_server.endpoint_url}/123456789012/missing.fifo"
        overrides["aws_endpoint_url"] = moto_server.endpoint_url
    runtime = LambdaRuntime()
    container = await runtime.call(
        build_container, make_settings(signer.public_key_hex, **overrides)
    )
    door = LambdaDoor(runtime, container, base64_body=False)
    real_token = payload("play")["token"]
    requests = [
        payload("play"),
        payload("play", id="1300000000000007001", token=PLAIN_TOKEN),
        with_options(payload("play", id="1300000000000007002", token=PLAIN_TOKEN), query="file:/x"),
        payload("play_autocomplete", token=PLAIN_TOKEN),
        payload("button", token=PLAIN_TOKEN),
        payload("play_dm", token=PLAIN_TOKEN),
    ]
    # WHEN signed interactions (played, refused, autocompleted, rate limited) go through
    try:
        for data in requests:
            body = encode(data)
            assert (await door.post(body, signer.headers(body))).status == 200
        bad = encode(payload("play", token=PLAIN_TOKEN))
        assert (
            await door.post(bad, {"x-signature-ed25519": "00" * 64, "x-signature-timestamp": "1"})
        ).status == 401
    finally:
        await door.aclose()
    out = capsys.readouterr()
    logs = out.err + out.out
    # THEN there is one "handled" line per verified interaction, with ids, outcome and latency
    lines = [json.loads(line) for line in out.err.splitlines() if line.startswith("{")]
    handled = [line for line in lines if line["event"] == "interaction.handled"]
    assert len(handled) == len(requests)
    for line in handled:
        assert {"interaction_id", "guild_id", "command", "outcome", "latency_ms"} <= line.keys()
    assert [line["event"] for line in lines].count("interaction.rejected") == 1
    # AND no token, in clear or in any part, and no option text from the body
    assert real_token not in logs and PLAIN_TOKEN not in logs
    assert PLAIN_TOKEN[:24] not in logs
    assert "never gonna" not in logs
