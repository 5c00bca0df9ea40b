"""Discord's OpenAPI spec as ground truth: route matching, auth rules, request validation."""

from __future__ import annotations

import asyncio
import enum
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import (
    ValidationError,
    best_match,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URN = "urn:discord-openapi"
_METHODS = ("get", "put", "post", "patch", "delete")
_MAX_REPORTED_ERRORS = 25

JSON = dict[str, Any]


class Auth(enum.Enum):
    """What an operation's ``security`` list allows."""

    OPTIONAL = "optional"  # [{}, {BotToken: []}]: webhooks and interaction callbacks
    BOT = "bot"  # a bot token is required
    OAUTH_ONLY = "oauth-only"  # only a Bearer token would do: a bot cannot call it


@dataclass(frozen=True)
class Param:
    """A path or query parameter of an operation, with a JSON pointer to its schema."""

    name: str
    location: str
    required: bool
    schema_pointer: str


@dataclass(frozen=True)
class Operation:
    """One (method, path template) of the spec."""

    operation_id: str
    method: str
    template: str
    segments: tuple[str, ...]
    auth: Auth
    body_pointers: Mapping[str, str]  # content type -> pointer to the schema
    body_required: bool
    params: tuple[Param, ...]
    pointer: str


@dataclass(frozen=True)
class RouteMatch:
    """A request path resolved to an operation and its path parameters."""

    operation: Operation
    path_params: Mapping[str, str]


class NoRoute(enum.Enum):
    """Why a request matched no operation."""

    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def form_error(code: str, message: str) -> JSON:
    """One entry of Discord's ``_errors`` lists."""
    return {"code": code, "message": message}


class OpenApiSpec:
    """Loads ``openapi.json`` once (lazily, off the event loop) and validates requests with it."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._operations: dict[int, list[Operation]] | None = None
        self._by_id: dict[str, Operation] = {}
        self._registry: Registry[Any] | None = None
        self._validators: dict[str, Draft202012Validator] = {}
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the spec has been parsed and indexed."""
        return self._operations is not None

    async def ensure_loaded(self) -> None:
        """Parse and index the spec in a thread the first time it is needed."""
        if self._operations is not None:
            return
        async with self._lock:
            if self._operations is None:
                await asyncio.to_thread(self.load)

    def load(self) -> None:
        """Parse and index the spec (blocking: ~20 ms for 1.1 MB)."""
        if self._path is not None:
            text = self._path.read_text(encoding="utf-8")
        else:
            text = resources.files("fake_discord").joinpath("data/openapi.json").read_text("utf-8")
        document: JSON = json.loads(text)
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(SPEC_URN, resource)
        operations: dict[int, list[Operation]] = defaultdict(list)
        for template, item in document["paths"].items():
            for op in self._index_path(template, item):
                operations[len(op.segments)].append(op)
                self._by_id[op.operation_id] = op
        self._operations = dict(operations)

    def _index_path(self, template: str, item: JSON) -> Iterable[Operation]:
        path_pointer = f"/paths/{_escape(template)}"
        shared = {
            (p["name"], p["in"]): Param(
                p["name"], p["in"], bool(p.get("required")), f"{path_pointer}/parameters/{i}/schema"
            )
            for i, p in enumerate(item.get("parameters", []))
        }
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            pointer = f"{path_pointer}/{method}"
            params = dict(shared)
            for i, p in enumerate(op.get("parameters", [])):
                params[(p["name"], p["in"])] = Param(
                    p["name"], p["in"], bool(p.get("required")), f"{pointer}/parameters/{i}/schema"
                )
            body = op.get("requestBody", {})
            yield Operation(
                operation_id=op["operationId"],
                method=method.upper(),
                template=template,
                segments=tuple(template.strip("/").split("/")),
                auth=_auth_of(op.get("security", [{}])),
                body_pointers={
                    ctype: f"{pointer}/requestBody/content/{_escape(ctype)}/schema"
                    for ctype in body.get("content", {})
                },
                body_required=bool(body.get("required")),
                params=tuple(params.values()),
                pointer=pointer,
            )

    def operation(self, operation_id: str) -> Operation:
        """The operation with this ``operationId``."""
        self._require_loaded()
        return self._by_id[operation_id]

    def match(self, method: str, path: str) -> RouteMatch | NoRoute:
        """Resolve a concrete path (after ``/api/v10``) to the most literal matching operation."""
        operations = self._require_loaded()
        parts = tuple(path.strip("/").split("/"))
        best: list[tuple[int, Operation, dict[str, str]]] = []
        for op in operations.get(len(parts), []):
            params: dict[str, str] = {}
            literal = 0
            for template_part, part in zip(op.segments, parts, strict=True):
                if template_part.startswith("{") and template_part.endswith("}"):
                    params[template_part[1:-1]] = part
                elif template_part == part:
                    literal += 1
                else:
                    break
            else:
                best.append((literal, op, params))
        if not best:
            return NoRoute.NOT_FOUND
        top = max(score for score, _, _ in best)
        candidates = [(op, params) for score, op, params in best if score == top]
        for op, params in candidates:
            if op.method == method.upper():
                return RouteMatch(op, params)
        return NoRoute.METHOD_NOT_ALLOWED

    def validate_params(self, match: RouteMatch, query: Mapping[str, str]) -> JSON:
        """Discord-shaped errors for path and query parameters (empty when valid)."""
        errors: JSON = {}
        for param in match.operation.params:
            if param.location == "path":
                raw: str | None = match.path_params.get(param.name)
            elif param.location == "query":
                raw = query.get(param.name)
            else:
                continue
            if raw is None:
                if param.required:
                    errors[param.name] = {
                        "_errors": [form_error("BASE_TYPE_REQUIRED", "This field is required")]
                    }
                continue
            value = _coerce(raw, self.resolve_schema(self._resolve(param.schema_pointer)))
            error = best_match(self._validator(param.schema_pointer).iter_errors(value))
            if error is not None:
                errors[param.name] = {"_errors": [_describe(error, value)]}
        return errors

    def validate_body(self, operation: Operation, content_type: str, body: Any) -> JSON:
        """Discord-shaped errors for a JSON body (a multipart ``payload_json`` counts as JSON)."""
        pointer = operation.body_pointers.get("application/json")
        if pointer is None:
            pointer = operation.body_pointers.get(content_type)
        if pointer is None:
            return {}
        errors: JSON = {}
        for count, error in enumerate(self._validator(pointer).iter_errors(body)):
            if count >= _MAX_REPORTED_ERRORS:
                break
            for leaf in _leaves(error):
                _place(errors, leaf)
        return errors

    def validate_response(self, operation_id: str, status: int, body: Any) -> list[str]:
        """Schema violations of a response body the fake produced (used by its own tests)."""
        self._require_loaded()
        op = self._by_id[operation_id]
        pointer = f"{op.pointer}/responses/{status}/content/application~1json/schema"
        if self._resolve(pointer) is None:
            return []
        return [
            f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message[:300]}"
            for error in self._validator(pointer).iter_errors(body)
            for leaf in _leaves(error)
        ]

    def _resolve(self, pointer: str) -> Any:
        registry = self._registry
        assert registry is not None
        try:
            return registry.resolver().lookup(f"{SPEC_URN}#{quote(pointer, safe='/~')}").contents
        except LookupError:
            return None

    def resolve_schema(self, schema: Any) -> Any:
        """Follow a top-level ``$ref`` inside the spec."""
        while isinstance(schema, dict) and "$ref" in schema and schema["$ref"].startswith("#"):
            schema = self._resolve(schema["$ref"][1:])
        return schema

    def _validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            ref = {"$ref": f"{SPEC_URN}#{quote(pointer, safe='/~')}"}
            validator = Draft202012Validator(ref, registry=self._registry)
            self._validators[pointer] = validator
        return validator

    def _require_loaded(self) -> dict[int, list[Operation]]:
        if self._operations is None:
            raise RuntimeError("the OpenAPI spec is not loaded yet: await ensure_loaded() first")
        return self._operations


def _auth_of(security: list[JSON]) -> Auth:
    if any(not requirement for requirement in security):
        return Auth.OPTIONAL
    if any("BotToken" in requirement for requirement in security):
        return Auth.BOT
    return Auth.OAUTH_ONLY


def _coerce(raw: str, schema: Any) -> Any:
    """Query and path values are strings on the wire; read them as the schema's type."""
    kinds = schema.get("type") if isinstance(schema, dict) else None
    kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
    if "boolean" in kinds and raw.lower() in ("true", "false", "1", "0"):
        return raw.lower() in ("true", "1")
    if "integer" in kinds:
        try:
            return int(raw)
        except ValueError:
            return raw
    if "number" in kinds:
        try:
            return float(raw)
        except ValueError:
            return raw
    return raw


def _branch_mismatched(errors: list[ValidationError]) -> bool:
    """A union branch whose discriminator (``type`` field, or the JSON type) did not match."""
    for error in errors:
        rel = list(error.relative_path)
        if not rel and error.validator == "type":
            return True
        if rel == ["type"] and error.validator in ("enum", "const"):
            return True
    return False


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors worth reporting: inside a union, the branch the body was evidently aiming at."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = defaultdict(list)
    for sub in error.context:
        branches[sub.relative_schema_path[0]].append(sub)
    matching = [errs for errs in branches.values() if not _branch_mismatched(errs)]
    if not matching:
        best = best_match(error.context)
        return [best] if best is not None else [error]
    chosen = min(matching, key=len)
    return [leaf for sub in chosen for leaf in _leaves(sub)]


def _describe(error: ValidationError, value: Any = None) -> JSON:
    validator = error.validator
    limit = error.validator_value
    if validator in {"maxLength", "maxItems"}:
        return form_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    if validator in {"minLength", "minItems"}:
        return form_error("BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length.")
    if validator == "required":
        return form_error("BASE_TYPE_REQUIRED", "This field is required")
    if validator in ("enum", "const"):
        return form_error("BASE_TYPE_CHOICES", f"Value must be one of {limit}.")
    if validator == "pattern" and isinstance(limit, str) and "[1-9]" in limit:
        return form_error("NUMBER_TYPE_COERCE", f'Value "{error.instance}" is not snowflake.')
    if validator == "type":
        return form_error("BASE_TYPE_BAD_TYPE", error.message[:200])
    if validator in ("maximum", "minimum"):
        return form_error(
            "NUMBER_TYPE_MAX" if validator == "maximum" else "NUMBER_TYPE_MIN", error.message[:200]
        )
    return form_error("BASE_TYPE_INVALID", error.message[:200])


def _place(errors: JSON, error: ValidationError) -> None:
    """Put one error into Discord's nested ``errors`` tree (array indexes become string keys)."""
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        path.append(missing[0] if missing else "?")
    node = errors
    for part in path:
        node = node.setdefault(part, {})
    node.setdefault("_errors", []).append(_describe(error))
