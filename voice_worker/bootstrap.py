"""The one place that picks the worker's implementations from settings (cloud or embedded)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import discord

from shared.queue import InMemoryJobQueue, JobQueue
from shared.settings import Settings
from shared.state import open_state_store
from voice_worker.sources import Resolver, ResolverConfig
from voice_worker.tracks import CachedTracks
from voice_worker.worker import Worker


def resolver_config(settings: Settings) -> ResolverConfig:
    """Source resolution settings."""
    return ResolverConfig(
        allow_private_addresses=settings.allow_private_sources,
        timeout_s=settings.source_resolve_timeout_s,
        max_playlist_items=settings.source_max_playlist_items,
        cookies_file=settings.ytdlp_cookies_file or None,
        proxy=settings.ytdlp_proxy or None,
        source_address=settings.ytdlp_source_address or None,
        extractor_args=settings.ytdlp_extractor_args,
    )


def build_tracks(settings: Settings) -> CachedTracks:
    """The resolver and its stream cache."""
    return CachedTracks(Resolver(resolver_config(settings)))


def build_cloud_queue(settings: Settings) -> JobQueue:
    """The SQS FIFO jobs queue (JOBS_QUEUE_URL), with its DLQ when configured."""
    from shared.queue.sqs import SqsJobQueue  # noqa: PLC0415 - aiobotocore only in cloud mode

    return SqsJobQueue(
        settings.jobs_queue_url,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url or None,
        dead_letter_url=settings.jobs_dead_letter_queue_url or None,
    )


def cloud_worker(settings: Settings, *, freeze_heap: bool = False) -> Worker:
    """A worker routing SQS jobs to guild owners' inboxes, with DynamoDB (or SQLite) state.

    Interactions arrive over HTTP elsewhere (the Lambda). ``freeze_heap``: see ``Worker``.
    """
    from shared.queue.sqs import SqsJobQueue  # noqa: PLC0415 - aiobotocore only in cloud mode

    queue = build_cloud_queue(settings)
    assert isinstance(queue, SqsJobQueue)
    return Worker(
        settings,
        queue=queue,
        sources=build_tracks(settings),
        state=open_state_store(settings),
        inboxes=queue,
        freeze_heap=freeze_heap,
    )


def embedded_worker(
    settings: Settings,
    *,
    queue: InMemoryJobQueue | None = None,
    health_port: int | None = None,
    freeze_heap: bool = False,
) -> Worker:
    """The whole bot in one process: gateway interactions -> in-process queue -> worker."""
    from voice_worker.embedded import GatewayInteractions, build_router  # noqa: PLC0415

    jobs = queue or InMemoryJobQueue()
    state = open_state_store(settings)  # SQLite unless STATE_TABLE is set

    def interactions(client: discord.Client) -> GatewayInteractions:
        return GatewayInteractions(build_router(settings, jobs, state), client)

    return Worker(
        settings,
        queue=jobs,
        sources=build_tracks(settings),
        state=state,
        interactions=interactions,
        health_port=health_port,
        freeze_heap=freeze_heap,
    )


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT begin a graceful stop."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)


async def run(worker: Worker) -> int:
    """Run a worker until a signal or a fatal error; release its queue and sources."""
    install_signal_handlers(worker.request_stop)
    try:
        return await worker.run()
    finally:
        await worker.queue.aclose()
        if worker.state is not None:
            await worker.state.aclose()
        aclose = getattr(worker.sources, "aclose", None)
        if aclose is not None:
            await aclose()
