"""The one place that picks the front door's implementations from settings.

Entry points (the Lambda handler, `musicbot serve`) call `bootstrap()` once per process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI

from interactions.app import create_app
from interactions.aws_sigv4 import AwsCredentials
from interactions.commands.base import JobSender
from interactions.sqs_sender import SqsHttpSender
from shared.logs import configure_logging
from shared.settings import Settings, load_settings


@dataclass(frozen=True)
class FrontDoor:
    """The app and what it holds open (closed by local runs; a Lambda is just frozen)."""

    app: FastAPI
    queue: JobSender
    settings: Settings

    async def aclose(self) -> None:
        """Release the queue's connections."""
        await self.queue.aclose()


def build_job_sender(settings: Settings, environ: Mapping[str, str] | None = None) -> JobSender:
    """SQS when JOBS_QUEUE_URL is set, else the in-process queue (embedded mode, tests)."""
    if not settings.jobs_queue_url:
        from shared.queue.memory import InMemoryJobQueue  # noqa: PLC0415 - not in the Lambda

        return InMemoryJobQueue()
    environ = os.environ if environ is None else environ
    credentials = AwsCredentials.from_environ(environ)
    if credentials is not None:
        # Static credentials (always so in Lambda): the lean sender, no botocore to import.
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


def bootstrap(
    settings: Settings | None = None,
    *,
    queue: JobSender | None = None,
    environ: Mapping[str, str] | None = None,
    configure_logs: bool = True,
) -> FrontDoor:
    """Read settings (unless given), configure logging, and build the app with its queue."""
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(
            secrets=settings.secrets(), log_format=settings.log_format, level=settings.log_level
        )
    queue = queue or build_job_sender(settings, environ)
    return FrontDoor(app=create_app(settings, queue), queue=queue, settings=settings)
