"""AWS Lambda entry point: `interactions.lambda_entry.handler`. The only module importing Mangum.

Importing reads no environment and cannot fail on configuration: settings, logging, the app and
the queue client are built on the first invocation and kept for the container's life. The
imports themselves happen here, at init, where Lambda runs them before the first request.

The cyclic garbage collector is paused while they run: init creates ~75,000 tracked objects
that live as long as the container (modules, classes, pydantic and FastAPI schemas), and
collecting meanwhile only re-traverses them (a sixth of the import's CPU time). They are
then frozen out of the collector's generations, as the built container is after the first
invocation, so no later collection walks them either, on a cold start or a warm one.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_collecting = gc.isenabled()
gc.disable()
try:
    import structlog
    from mangum import Mangum

    from interactions.bootstrap import FrontDoor, bootstrap
    from shared.settings import Settings
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

log = structlog.get_logger("interactions.lambda")

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class Container:
    """What one Lambda execution environment keeps between invocations."""

    loop: asyncio.AbstractEventLoop
    front_door: FrontDoor
    adapter: LambdaHandler


def build_container(settings: Settings | None = None) -> Container:
    """Build the app, its queue client and a Mangum adapter bound to this thread's new loop."""
    # Lambda invokes the handler on one thread for the container's life. Mangum runs every
    # invocation with get_event_loop().run_until_complete, so a loop set here is reused by
    # every warm invocation, and the queue's connection (bound to it) with it.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        front_door = bootstrap(settings)
    except BaseException:
        asyncio.set_event_loop(None)
        loop.close()
        raise
    adapter: LambdaHandler = Mangum(front_door.app, lifespan="off")
    return Container(loop=loop, front_door=front_door, adapter=adapter)


@functools.cache
def _container() -> Container:
    container = build_container()
    gc.freeze()  # the app, its routes and clients: kept for the container's life
    return container


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler for API Gateway HTTP API (v2) events carrying Discord interactions."""
    try:
        container = _container()
    except ValueError as exc:  # pydantic's ValidationError included: bad configuration
        # Not cached: the next invocation tries again. Field names only, never values.
        fields = [".".join(map(str, e["loc"])) for e in getattr(exc, "errors", list)()]
        log.error("lambda.misconfigured", error=type(exc).__name__, fields=fields)
        return {
            "statusCode": 503,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"error": "service misconfigured"}),
            "isBase64Encoded": False,
        }
    return container.adapter(event, context)


def close_container() -> None:
    """Release the container's queue connection and loop (local runs and tests; Lambda freezes)."""
    if _container.cache_info().currsize == 0:
        _container.cache_clear()
        return
    container = _container()
    _container.cache_clear()
    try:
        container.loop.run_until_complete(container.front_door.aclose())
    finally:
        asyncio.set_event_loop(None)
        container.loop.close()
