"""Test controls over HTTP under ``/_fake/`` (JSON), for tests in other processes and demos."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from fake_discord.server import FakeDiscord

JSON = dict[str, Any]
Route = Callable[[web.Request], Awaitable[Any]]


def _ok(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json"},
    )


def _guarded(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Turn a route's return value into JSON, and lookup/argument errors into 404/400."""

    async def handler(request: web.Request) -> web.Response:
        try:
            result = await route(request)
        except KeyError as exc:
            return _ok({"error": f"not found: {exc}"}, 404)
        except (ValueError, TypeError, RuntimeError) as exc:
            return _ok({"error": str(exc)}, 400)
        return result if isinstance(result, web.Response) else _ok(result)

    return handler


async def _body(request: web.Request) -> JSON:
    if not request.can_read_body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def add_control_routes(app: web.Application, fake: FakeDiscord) -> None:
    """Mount ``/_fake/...`` on the REST application."""

    async def info(_: web.Request) -> Any:
        return fake.describe()

    async def requests(request: web.Request) -> Any:
        since = int(request.query.get("since", "0"))
        return [r.to_json() for r in fake.requests if r.seq > since]

    async def failures(_: web.Request) -> Any:
        return [f.to_json() for f in fake.failures]

    async def clear_records(_: web.Request) -> Any:
        fake.clear_records()
        return {"ok": True}

    async def move(request: web.Request) -> Any:
        body = await _body(request)
        channel = body.get("channel_id", True)
        fake.move_user(body.get("guild_id"), channel, body.get("user_id"))
        return {"ok": True}

    async def disconnect_bot(request: web.Request) -> Any:
        fake.disconnect_bot((await _body(request)).get("guild_id"))
        return {"ok": True}

    async def voice_states(request: web.Request) -> Any:
        guild = fake.core.guild(request.query.get("guild_id"))
        return {uid: dict(state.__dict__) for uid, state in guild.voice_states.items()}

    async def ear(request: web.Request) -> Any:
        report = fake.ear_report(request.query.get("guild_id"))
        return None if report is None else report.to_json()

    async def ear_all(request: web.Request) -> Any:
        return [r.to_json() for r in fake.ear_reports(request.query.get("guild_id"))]

    async def ear_reset(request: web.Request) -> Any:
        return {"ok": fake.reset_ear((await _body(request)).get("guild_id"))}

    async def add_fault(request: web.Request) -> Any:
        body = await _body(request)
        return fake.add_fault(int(body.pop("status")), **body).to_json()

    async def list_faults(_: web.Request) -> Any:
        return [f.to_json() for f in fake.core.faults.faults]

    async def clear_faults(_: web.Request) -> Any:
        fake.clear_faults()
        return {"ok": True}

    async def interact(request: web.Request) -> Any:
        body = await _body(request)
        kind = body.pop("kind", "command")
        via = body.pop("via", "auto")
        if "guild_id" in body:
            body["guild"] = body.pop("guild_id")
        if via == "none":
            return fake.mint_interaction(kind, **body).to_json()
        return (await fake.send_interaction(kind, via=via, **body)).to_json()

    async def interaction(request: web.Request) -> Any:
        return fake.interaction(request.match_info["id"]).to_json()

    async def expire(request: web.Request) -> Any:
        fake.expire_interaction(request.match_info["id"])
        return {"ok": True}

    async def messages(request: web.Request) -> Any:
        return fake.channel_messages(request.match_info["id"])

    async def commands(request: web.Request) -> Any:
        return fake.registered_commands(
            request.query.get("guild_id"), global_scope=request.query.get("global") == "1"
        )

    async def set_url(request: web.Request) -> Any:
        fake.interactions_url = (await _body(request)).get("url")
        return {"interactions_url": fake.interactions_url}

    async def check_url(_: web.Request) -> Any:
        return {"problems": await fake.check_interactions_endpoint()}

    async def sessions(_: web.Request) -> Any:
        return [
            {
                "session_id": s.session_id,
                "shard": [s.shard_id, s.shard_count],
                "intents": s.intents,
                "seq": s.seq,
                "connected": s.connection is not None,
            }
            for s in fake.gateway.live_sessions()
        ]

    async def reconnect(_: web.Request) -> Any:
        fake.gateway.request_reconnect()
        return {"ok": True}

    async def invalidate(request: web.Request) -> Any:
        fake.gateway.invalidate(bool((await _body(request)).get("resumable", False)))
        return {"ok": True}

    async def drop(request: web.Request) -> Any:
        fake.gateway.drop_connections(int((await _body(request)).get("code", 4000)))
        return {"ok": True}

    routes: list[tuple[str, str, Route]] = [
        ("GET", "/info", info),
        ("GET", "/requests", requests),
        ("GET", "/failures", failures),
        ("POST", "/records/clear", clear_records),
        ("POST", "/voice/move", move),
        ("POST", "/voice/disconnect-bot", disconnect_bot),
        ("GET", "/voice/states", voice_states),
        ("GET", "/ear", ear),
        ("GET", "/ear/all", ear_all),
        ("POST", "/ear/reset", ear_reset),
        ("POST", "/faults", add_fault),
        ("GET", "/faults", list_faults),
        ("DELETE", "/faults", clear_faults),
        ("POST", "/interactions", interact),
        ("GET", "/interactions/{id}", interaction),
        ("POST", "/interactions/{id}/expire", expire),
        ("GET", "/channels/{id}/messages", messages),
        ("GET", "/commands", commands),
        ("PUT", "/interactions-url", set_url),
        ("POST", "/interactions-url/check", check_url),
        ("GET", "/gateway/sessions", sessions),
        ("POST", "/gateway/reconnect", reconnect),
        ("POST", "/gateway/invalidate", invalidate),
        ("POST", "/gateway/drop", drop),
    ]
    for method, path, route in routes:
        app.router.add_route(method, "/_fake" + path, _guarded(route))
