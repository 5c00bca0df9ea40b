"""The one place that picks the front door's implementations from settings.

Entry points (the Lambda handler, `musicbot serve`) call `bootstrap()` once per process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI

from interactions.app import create_app
from interactions.aws_credentials import credential_source
from interactions.aws_http import AwsJsonClient
from interactions.commands.base import JobSender
from interactions.sqs_sender import SqsHttpSender
from interactions.store_access import FrontDoorStore, open_front_door_store
from shared.logs import configure_logging
from shared.settings import Settings, load_settings

if TYPE_CHECKING:  # imported by build_waker: a cold start without waking does without it
    from interactions.wake import WorkerWaker

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FrontDoor:
    """The app and what it holds open (closed by local runs; a Lambda is just frozen)."""

    app: FastAPI
    queue: JobSender
    settings: Settings
    store: FrontDoorStore | None = None
    waker: WorkerWaker | None = None

    async def aclose(self) -> None:
        """Release the queue's, the store's and the waker's connections."""
        await self.queue.aclose()
        if self.store is not None:
            await self.store.aclose()
        if self.waker is not None:
            await self.waker.aclose()


def build_job_sender(settings: Settings, environ: Mapping[str, str] | None = None) -> JobSender:
    """SQS when JOBS_QUEUE_URL is set, else the in-process queue (embedded mode, tests)."""
    if not settings.jobs_queue_url:
        from shared.queue.memory import InMemoryJobQueue  # noqa: PLC0415 - not in the Lambda

        return InMemoryJobQueue()
    environ = os.environ if environ is None else environ
    credentials = credential_source(environ)
    if credentials is not None:
        # Environment or container credentials (always so in Lambda, SnapStart included):
        # the lean sender, no botocore to import.
        return SqsHttpSender(
            settings.jobs_queue_url,
            region=settings.aws_region,
            credentials=credentials,
            endpoint_url=settings.aws_endpoint_url or None,
        )
    # Profiles, SSO, instance roles…: botocore's credential chain handles those.
    from shared.queue.sqs import SqsJobQueue  # noqa: PLC0415 - heavy, and rarely needed

    return SqsJobQueue(
        settings.jobs_queue_url,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url or None,
    )


def build_store(settings: Settings) -> FrontDoorStore | None:
    """The state store the settings name (opened on first use), or None without one.

    A DynamoDB table when STATE_TABLE is set; else, without an SQS queue (a single-machine
    run), the SQLite file the local worker writes. An in-memory SQLite database belongs to
    the process that opened it, so there is nothing to share then.
    """
    if settings.state_table:
        return open_front_door_store(settings)
    if settings.jobs_queue_url or settings.sqlite_path == ":memory:":
        return None
    return open_front_door_store(settings)


def build_waker(settings: Settings, environ: Mapping[str, str] | None = None) -> WorkerWaker | None:
    """The ECS waker when WORKER_CLUSTER/WORKER_SERVICE are set (and heartbeats are readable)."""
    if not (settings.worker_cluster and settings.worker_service):
        return None
    if not settings.state_table:
        log.warning("workers.wake_disabled", reason="no STATE_TABLE to read heartbeats from")
        return None
    credentials = credential_source(os.environ if environ is None else environ)
    if credentials is None:
        log.warning("workers.wake_disabled", reason="no environment or container credentials")
        return None
    from interactions.wake import EcsScaler, HeartbeatReader, WorkerWaker  # noqa: PLC0415

    endpoint = settings.aws_endpoint_url or None
    dynamodb = AwsJsonClient(
        service="dynamodb",
        target_prefix="DynamoDB_20120810",
        json_version="1.0",
        region=settings.aws_region,
        credentials=credentials,
        endpoint_url=endpoint,
    )
    ecs = AwsJsonClient(
        service="ecs",
        target_prefix="AmazonEC2ContainerServiceV20141113",
        json_version="1.1",
        region=settings.aws_region,
        credentials=credentials,
        endpoint_url=endpoint,
    )
    return WorkerWaker(
        HeartbeatReader(dynamodb, settings.state_table),
        EcsScaler(ecs, cluster=settings.worker_cluster, service=settings.worker_service),
    )


def bootstrap(
    settings: Settings | None = None,
    *,
    queue: JobSender | None = None,
    store: FrontDoorStore | None = None,
    environ: Mapping[str, str] | None = None,
    configure_logs: bool = True,
) -> FrontDoor:
    """Read settings (unless given), configure logging, and build the app with its clients."""
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(
            secrets=settings.secrets(), log_format=settings.log_format, level=settings.log_level
        )
    queue = queue or build_job_sender(settings, environ)
    store = store or build_store(settings)
    waker = build_waker(settings, environ)
    app = create_app(settings, queue, store=store, waker=waker)
    return FrontDoor(app=app, queue=queue, settings=settings, store=store, waker=waker)
