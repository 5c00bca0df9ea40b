"""A send-only SQS FIFO client for the Lambda: one signed JSON POST over a kept-alive connection.

Why not aiobotocore here: importing it and creating its client costs ~0.4 s of every cold start,
against Discord's 3 s deadline, to make one SendMessage call. The message is the same as
shared.queue.sqs.send_params builds (a test holds the two together); workers keep aiobotocore.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from interactions.aws_credentials import CredentialSource, CredentialsUnavailable, StaticCredentials
from interactions.aws_http import AwsError, AwsJsonClient, AwsUnavailable
from interactions.aws_http import default_endpoint as _service_endpoint
from interactions.aws_sigv4 import AwsCredentials
from shared.jobs import AnyJob, encode_job
from shared.queue.base import QueueUnavailable

log = structlog.get_logger(__name__)


def default_endpoint(region: str) -> str:
    """SQS's regional endpoint."""
    return _service_endpoint("sqs", region)


def send_message_body(job: AnyJob, queue_url: str) -> dict[str, Any]:
    """SendMessage's JSON input: group = guild (order per guild), dedup = interaction id."""
    return {
        "QueueUrl": queue_url,
        "MessageBody": encode_job(job),
        "MessageGroupId": job.guild_id,
        "MessageDeduplicationId": job.job_id,
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": job.kind},
            "schema_version": {"DataType": "Number", "StringValue": str(job.schema_version)},
        },
    }


class SqsHttpSender:
    """Sends jobs to an SQS FIFO queue with SigV4-signed HTTP/1.1 POSTs (JSON protocol).

    One connection, reused across warm invocations, one request at a time. Callers bound the
    wait (asyncio.timeout); a cancelled request drops its connection.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        region: str,
        credentials: AwsCredentials | CredentialSource,
        endpoint_url: str | None = None,
        connect_timeout_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        source = (
            StaticCredentials(credentials)
            if isinstance(credentials, AwsCredentials)
            else credentials
        )
        self._queue_url = queue_url
        self._client = AwsJsonClient(
            service="sqs",
            target_prefix="AmazonSQS",
            json_version="1.0",
            region=region,
            credentials=source,
            endpoint_url=endpoint_url or default_endpoint(region),
            connect_timeout_s=connect_timeout_s,
            clock=clock,
        )

    async def send(self, job: AnyJob) -> None:
        """Enqueue the job; SQS drops a repeat of the same job id within 5 minutes."""
        try:
            await self._client.call("SendMessage", send_message_body(job, self._queue_url))
        except AwsError as exc:
            log.warning("queue.send_failed", status=exc.status, error=exc.code, **job.log_fields())
            raise QueueUnavailable(f"SQS refused the job ({exc.status} {exc.code})") from None
        except (AwsUnavailable, CredentialsUnavailable) as exc:
            raise QueueUnavailable(f"SQS unreachable ({exc})") from exc

    async def aclose(self) -> None:
        """Close the kept-alive connection."""
        await self._client.aclose()
