"""The REST pipeline: route, authenticate, parse, validate against the spec, fault, handle."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from aiohttp import BodyPartReader, web

from fake_discord.core import Core
from fake_discord.handlers import HANDLERS, RequestContext
from fake_discord.interactions import Reply
from fake_discord.records import RecordedRequest
from fake_discord.spec import Auth, NoRoute

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
JSON_CONTENT_TYPE = "application/json"  # exactly this: discord.py only parses this value


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A response with ``Content-Type: application/json`` and nothing appended."""
    all_headers = {"Via": "1.1 google", **(headers or {})}
    if status == 204 or body is None:
        return web.Response(status=status, headers=all_headers)
    all_headers["Content-Type"] = JSON_CONTENT_TYPE
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def _ratelimit_headers(template: str) -> dict[str, str]:
    # A roomy bucket: discord.py pre-emptively waits when Remaining hits 0, which we never want.
    bucket = hashlib.sha1(template.encode(), usedforsecurity=False).hexdigest()[:16]
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": bucket,
    }


class RestApi:
    """aiohttp handlers for ``/api/...``."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def add_routes(self, app: web.Application) -> None:
        """Mount the API on an application."""
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle)
        app.router.add_route("*", "/api/{tail:.*}", self._wrong_version)

    async def _wrong_version(self, request: web.Request) -> web.Response:
        reply = Reply(
            404,
            {"message": "404: Not Found", "code": 0},
            "only /api/v10 is served (discord.py uses v10)",
        )
        return self._finish(request, reply, path=request.path)

    def _auth(self, header: str | None) -> str:
        if header is None:
            return "none"
        return "bot" if header == f"Bot {self._core.bot_token}" else "invalid"

    async def _handle(self, request: web.Request) -> web.Response:
        core = self._core
        await core.spec.ensure_loaded()
        path = "/" + request.match_info["tail"]
        auth = self._auth(request.headers.get("Authorization"))
        match = core.spec.match(request.method, path)
        if isinstance(match, NoRoute):
            status = match.value
            message = "404: Not Found" if status == 404 else "405: Method Not Allowed"
            reply = Reply(
                status,
                {"message": message, "code": 0},
                f"{request.method} {path} is not in Discord's OpenAPI spec",
            )
            return self._finish(request, reply, path=path, auth=auth)
        operation = match.operation
        op_id = operation.operation_id
        unauthorized = Reply(401, {"message": "401: Unauthorized", "code": 0}, None)
        if auth == "invalid" or (operation.auth is not Auth.OPTIONAL and auth != "bot"):
            why = "invalid Authorization header" if auth == "invalid" else "bot token required"
            reply = unauthorized._replace(failure=f"{why} for {op_id}")
            return self._finish(request, reply, path=path, op_id=op_id, auth=auth)
        if operation.auth is Auth.OAUTH_ONLY:
            reply = unauthorized._replace(failure=f"{op_id} needs an OAuth2 bearer token")
            return self._finish(request, reply, path=path, op_id=op_id, auth=auth)

        parsed = await self._read_body(request, bool(operation.body_pointers))
        if isinstance(parsed, Reply):
            return self._finish(
                request, parsed, path=path, op_id=op_id, auth=auth, ctype=request.content_type
            )
        body, has_files = parsed
        errors = core.spec.validate_params(match, request.query)
        if body is None and operation.body_required:
            errors.setdefault("_errors", []).append(
                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
            )
        elif body is not None:
            errors.update(core.spec.validate_body(operation, request.content_type, body))
        if errors:
            reply = Reply(
                400,
                {"code": 50035, "message": "Invalid Form Body", "errors": errors},
                f"{op_id}: body or parameters rejected by the spec",
            )
            return self._finish(
                request,
                reply,
                path=path,
                op_id=op_id,
                auth=auth,
                ctype=request.content_type,
                body=body,
            )

        fault = core.faults.take(request.method, path, op_id)
        if fault is not None:
            status, headers, fault_body = fault.response()
            response = json_response(status, fault_body, headers)
            self._record(
                request,
                Reply(status, fault_body),
                path=path,
                op_id=op_id,
                auth=auth,
                ctype=request.content_type,
                body=body,
                fault=fault.id,
            )
            return response

        handler = HANDLERS.get(op_id)
        if handler is None:
            reply = Reply(
                501,
                {"message": f"the fake Discord does not implement {op_id}", "code": 0},
                f"{op_id} is valid but not implemented by the fake",
            )
        else:
            context = RequestContext(core, match, dict(request.query), body, has_files, auth)
            reply = await handler(context)
        return self._finish(
            request,
            reply,
            path=path,
            op_id=op_id,
            auth=auth,
            ctype=request.content_type,
            body=body,
            template=operation.template,
        )

    async def _read_body(
        self, request: web.Request, accepts_body: bool
    ) -> tuple[Any, bool] | Reply:
        if not request.can_read_body:
            return None, False
        ctype = request.content_type
        if ctype == "multipart/form-data":
            payload: Any = None
            files = 0
            async for part in await request.multipart():
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    try:
                        payload = json.loads(await part.text())
                    except ValueError:
                        return Reply(
                            400,
                            {"code": 50109, "message": "The request body contains invalid JSON."},
                            "payload_json is not JSON",
                        )
                else:
                    await part.read()
                    files += 1
            return payload, files > 0
        raw = await request.read()
        if not accepts_body:
            return None, False
        if ctype != "application/json":
            return Reply(
                400,
                {"code": 50035, "message": "Invalid Form Body", "errors": {}},
                f"unsupported Content-Type {ctype!r} (send application/json)",
            )
        try:
            return json.loads(raw), False
        except ValueError:
            return Reply(
                400,
                {"code": 50109, "message": "The request body contains invalid JSON."},
                "body is not JSON",
            )

    def _record(
        self,
        request: web.Request,
        reply: Reply,
        *,
        path: str,
        op_id: str | None,
        auth: str,
        ctype: str | None,
        body: Any,
        fault: str | None,
    ) -> None:
        core = self._core
        core.recorder.add_request(
            RecordedRequest(
                seq=core.recorder.next_seq(),
                method=request.method,
                path=path,
                query=dict(request.query),
                operation_id=op_id,
                auth=auth,
                content_type=ctype,
                body=body,
                status=reply.status,
                response=reply.body,
                failure=reply.failure,
                fault=fault,
            )
        )
        if reply.failure is not None:
            _log.info("fake discord rejected %s %s: %s", request.method, path, reply.failure)

    def _finish(
        self,
        request: web.Request,
        reply: Reply,
        *,
        path: str,
        op_id: str | None = None,
        auth: str = "none",
        ctype: str | None = None,
        body: Any = None,
        template: str | None = None,
    ) -> web.Response:
        self._record(
            request, reply, path=path, op_id=op_id, auth=auth, ctype=ctype, body=body, fault=None
        )
        headers = _ratelimit_headers(template) if template and reply.status < 400 else {}
        return json_response(reply.status, reply.body, headers)
