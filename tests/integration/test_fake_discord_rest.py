"""The fake Discord's REST side: spec strictness, auth, interactions over HTTP, controls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from fake_discord.server import FakeDiscord

JSON = dict[str, Any]
FakeFactory = Callable[..., Awaitable[FakeDiscord]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client (what the Lambda or a worker would use)."""
    async with aiohttp.ClientSession() as session:
        yield session


def _bot(fake: FakeDiscord) -> dict[str, str]:
    return {"Authorization": f"Bot {fake.bot_token}"}


async def test_a_body_the_spec_rejects_gets_400_and_is_recorded(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    url = f"{fake.rest_base_url}/channels/{fake.guilds[0].text_channel_id}/messages"
    async with http.post(url, json={"content": 123, "tts": "yes"}, headers=_bot(fake)) as resp:
        assert resp.status == 400
        assert resp.headers["Content-Type"] == "application/json"
        body = await resp.json()
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body"
    assert set(body["errors"]) == {"content", "tts"}
    assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_BAD_TYPE"
    assert [(f.source, f.detail["status"]) for f in fake.failures] == [("rest", 400)]
    assert fake.channel_messages(fake.guilds[0].text_channel_id) == []


async def test_auth_is_checked_where_discord_requires_it(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    async with http.get(f"{fake.rest_base_url}/users/@me") as resp:
        assert resp.status == 401
        assert await resp.json() == {"code": 0, "message": "401: Unauthorized"}
    async with http.get(
        f"{fake.rest_base_url}/users/@me", headers={"Authorization": "Bot wrong"}
    ) as resp:
        assert resp.status == 401
    async with http.get(f"{fake.rest_base_url}/users/@me", headers=_bot(fake)) as resp:
        assert resp.status == 200
        assert (await resp.json())["id"] == fake.bot_user_id
    async with http.get(f"{fake.rest_base_url}/not/a/route", headers=_bot(fake)) as resp:
        assert resp.status == 404
    async with http.get(f"{fake.rest_base_url.replace('v10', 'v9')}/users/@me") as resp:
        assert resp.status == 404
    assert len(fake.failures) == 4


async def test_webhook_routes_need_no_auth_and_follow_discords_rules(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    record = fake.mint_interaction("command", name="play", options={"query": "a song"})
    base = f"{fake.rest_base_url}/webhooks/{fake.application_id}/{record.token}"
    # a follow-up before the initial response: Unknown Webhook
    async with http.post(base, json={"content": "too early"}) as resp:
        assert resp.status == 404 and (await resp.json())["code"] == 10015
    callback = f"{fake.rest_base_url}/interactions/{record.id}/{record.token}/callback"
    async with http.post(callback, json={"type": 5}) as resp:
        assert resp.status == 204
    async with http.post(callback, json={"type": 5}) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 40060
    assert record.deferred and record.original is not None

    async with http.patch(
        f"{base}/messages/@original", json={"content": "Now playing: a song"}
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        edited = await resp.json()
    done = await fake.wait_for_original(record.id, content="Now playing: a song", timeout_s=2)
    assert done.original_edits == [{"content": "Now playing: a song"}]
    assert edited["id"] == done.original["id"] if done.original else False
    async with http.post(f"{base}?wait=true", json={"content": "Queue: 1 track"}) as resp:
        assert resp.status == 200
    assert [m["content"] for m in record.followups] == ["Queue: 1 track"]
    async with http.post(base, json={}) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 50006

    fake.expire_interaction(record.id)
    async with http.patch(f"{base}/messages/@original", json={"content": "late"}) as resp:
        assert resp.status == 401
        assert await resp.json() == {"code": 50027, "message": "Invalid Webhook Token"}
    reasons = [f.reason for f in fake.failures]
    assert reasons[0] == "follow-up before the initial response"
    assert "Interaction has already been acknowledged." in reasons


async def test_the_initial_response_is_due_within_the_deadline(
    fake_discord_factory: FakeFactory,
    http: aiohttp.ClientSession,
) -> None:
    fake = await fake_discord_factory(initial_response_deadline_s=0.05)
    record = fake.mint_interaction()
    await asyncio.sleep(0.1)
    url = f"{fake.rest_base_url}/interactions/{record.id}/{record.token}/callback"
    async with http.post(url, params={"with_response": "true"}, json={"type": 5}) as resp:
        assert resp.status == 404
        assert await resp.json() == {"code": 10062, "message": "Unknown interaction"}


async def test_callback_with_response_returns_the_spec_shape(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    record = fake.mint_interaction()
    url = f"{fake.rest_base_url}/interactions/{record.id}/{record.token}/callback"
    body = {"type": 4, "data": {"content": "Added to the queue", "flags": 64}}
    async with http.post(url, params={"with_response": "1"}, json=body) as resp:
        assert resp.status == 200
        answer = await resp.json()
    assert answer["interaction"]["response_message_ephemeral"] is True
    assert answer["resource"]["message"]["content"] == "Added to the queue"
    await fake.core.spec.ensure_loaded()
    assert fake.core.spec.validate_response("create_interaction_response", 200, answer) == []


async def test_multipart_payload_json_is_validated_and_stored(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    channel = fake.guilds[0].text_channel_id
    form = aiohttp.FormData()
    form.add_field(
        "payload_json", json.dumps({"content": "with a file"}), content_type="application/json"
    )
    form.add_field("files[0]", b"hello", filename="hello.txt", content_type="text/plain")
    url = f"{fake.rest_base_url}/channels/{channel}/messages"
    async with http.post(url, data=form, headers=_bot(fake)) as resp:
        assert resp.status == 200
    message_id = fake.channel_messages(channel)[0]["id"]
    async with http.patch(
        f"{url}/{message_id}", json={"content": "edited"}, headers=_bot(fake)
    ) as resp:
        assert resp.status == 200
    async with http.delete(f"{url}/{message_id}", headers=_bot(fake)) as resp:
        assert resp.status == 204
    fake.assert_no_failures()


async def test_command_registration_is_a_bulk_overwrite(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    guild = fake.guilds[0].guild_id
    url = f"{fake.rest_base_url}/applications/{fake.application_id}/guilds/{guild}/commands"
    commands = [
        {
            "name": "play",
            "description": "Play a song",
            "type": 1,
            "integration_types": [0],
            "contexts": [0],
            "options": [{"type": 3, "name": "query", "description": "What", "required": True}],
        },
        {"name": "skip", "description": "Skip", "type": 1},
    ]
    async with http.put(url, json=commands, headers=_bot(fake)) as resp:
        assert resp.status == 200
        first = await resp.json()
    async with http.put(url, json=commands, headers=_bot(fake)) as resp:
        second = await resp.json()
    assert [c["id"] for c in first] == [c["id"] for c in second]
    await fake.core.spec.ensure_loaded()
    assert (
        fake.core.spec.validate_response("bulk_set_guild_application_commands", 200, second) == []
    )
    record = fake.mint_interaction("command", name="play", options={"query": "x"})
    assert record.payload["data"]["id"] == first[0]["id"]
    async with http.put(
        url, json=[{"name": "Bad Name!", "description": "x"}], headers=_bot(fake)
    ) as resp:
        assert resp.status == 400
    async with http.put(url, json=[*commands, commands[1]], headers=_bot(fake)) as resp:
        assert resp.status == 400
    assert [c["name"] for c in fake.registered_commands(0)] == ["play", "skip"]


async def test_voice_state_lookup_with_the_bot_token(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    seeded = fake.guilds[0]
    url = f"{fake.rest_base_url}/guilds/{seeded.guild_id}/voice-states/{seeded.user_id}"
    async with http.get(url, headers=_bot(fake)) as resp:
        assert resp.status == 404 and (await resp.json())["code"] == 10065
    fake.move_user(seeded.guild_id)
    async with http.get(url, headers=_bot(fake)) as resp:
        assert resp.status == 200
        state = await resp.json()
    assert state["channel_id"] == seeded.voice_channel_id
    await fake.core.spec.ensure_loaded()
    assert fake.core.spec.validate_response("get_voice_state", 200, state) == []
    fake.assert_no_failures()


async def test_server_error_fault_is_served_once(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    fake.add_fault(503, operation_id="get_bot_gateway")
    url = f"{fake.rest_base_url}/gateway/bot"
    async with http.get(url, headers=_bot(fake)) as resp:
        assert resp.status == 503
    async with http.get(url, headers=_bot(fake)) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["url"] == fake.gateway_url
    assert body["session_start_limit"]["max_concurrency"] == 1


# --- interactions delivered over HTTP, like Discord does ------------------------------------
def _interactions_app(
    fake: FakeDiscord,
    http: aiohttp.ClientSession,
    tasks: list[asyncio.Task[None]],
    *,
    verify: bool = True,
) -> web.Application:
    """A tiny interactions endpoint: verifies the signature, defers, then edits @original."""
    key = VerifyKey(bytes.fromhex(fake.public_key))

    async def complete(payload: JSON) -> None:
        url = (
            f"{fake.rest_base_url}/webhooks/{payload['application_id']}/{payload['token']}"
            "/messages/@original"
        )
        async with http.patch(url, json={"content": "Now playing: test tone"}) as resp:
            assert resp.status == 200

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if verify:
            try:
                key.verify(
                    request.headers["X-Signature-Timestamp"].encode() + body,
                    bytes.fromhex(request.headers["X-Signature-Ed25519"]),
                )
            except (BadSignatureError, KeyError, ValueError):
                return web.Response(status=401, text="invalid request signature")
        payload = json.loads(body)
        if payload["type"] == 1:
            return web.json_response({"type": 1})
        tasks.append(asyncio.create_task(complete(payload)))
        return web.json_response({"type": 5})

    app = web.Application()
    app.router.add_post("/interactions", handle)
    return app


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/interactions"


async def test_http_interaction_is_signed_deferred_and_completed(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    tasks: list[asyncio.Task[None]] = []
    runner, url = await _serve(_interactions_app(fake, http, tasks))
    try:
        fake.interactions_url = url
        assert await fake.check_interactions_endpoint() == []
        record = await fake.send_interaction("command", name="play", options={"query": "tone"})
        assert record.delivered_via == "http" and record.http_status == 200
        assert record.http_body == {"type": 5}
        assert record.http_elapsed_s is not None and record.http_elapsed_s < 3
        done = await fake.wait_for_original(
            record.id, content="Now playing: test tone", timeout_s=5
        )
        assert done.initial_response_via == "http"
        await asyncio.gather(*tasks)
    finally:
        await runner.cleanup()
    fake.assert_no_failures()


async def test_endpoint_check_catches_an_app_that_skips_signature_checks(
    fake_discord: FakeDiscord,
    http: aiohttp.ClientSession,
) -> None:
    fake = fake_discord
    runner, url = await _serve(_interactions_app(fake, http, [], verify=False))
    try:
        problems = await fake.check_interactions_endpoint(url)
    finally:
        await runner.cleanup()
    assert problems == ["forged signature answered 200, expected 401"]


# --- the /_fake/ controls ------------------------------------------------------------------
async def test_controls_over_http(fake_discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    fake = fake_discord
    control = fake.control_base_url
    seeded = fake.guilds[0]
    async with http.get(f"{control}/info") as resp:
        info = await resp.json()
    assert info["rest_base_url"] == fake.rest_base_url and info["guilds"][0] == seeded.to_json()
    async with http.post(f"{control}/voice/move", json={"guild_id": seeded.guild_id}) as resp:
        assert resp.status == 200
    async with http.get(f"{control}/voice/states", params={"guild_id": seeded.guild_id}) as resp:
        states = await resp.json()
    assert states[seeded.user_id]["channel_id"] == seeded.voice_channel_id
    async with http.post(f"{control}/voice/move", json={"channel_id": None}) as resp:
        assert resp.status == 200
    assert seeded.user_id not in fake.core.guild(0).voice_states

    async with http.post(
        f"{control}/interactions", json={"kind": "command", "name": "queue", "via": "none"}
    ) as resp:
        minted = await resp.json()
    assert minted["payload"]["data"]["name"] == "queue" and minted["delivered_via"] is None
    async with http.get(f"{control}/interactions/{minted['id']}") as resp:
        assert (await resp.json())["token"] == minted["token"]
    async with http.get(f"{control}/interactions/404") as resp:
        assert resp.status == 404

    async with http.post(
        f"{control}/faults", json={"status": 429, "path": "/gateway/bot", "retry_after_s": 2.5}
    ) as resp:
        fault = await resp.json()
    async with http.get(f"{fake.rest_base_url}/gateway/bot", headers=_bot(fake)) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "3"
        assert resp.headers["X-RateLimit-Scope"] == "user"
        assert resp.headers["Via"]  # discord.py treats a 429 without Via as a Cloudflare ban
        assert (await resp.json())["retry_after"] == 2.5
    async with http.get(f"{control}/requests") as resp:
        assert (await resp.json())[-1]["fault"] == fault["id"]
    async with http.get(f"{control}/ear", params={"guild_id": seeded.guild_id}) as resp:
        assert await resp.json() is None
    async with http.get(f"{control}/failures") as resp:
        assert await resp.json() == []
