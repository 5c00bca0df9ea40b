"""SQS FIFO backend: MessageGroupId = guild id (order per guild), dedup id = interaction id."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.jobs import ControlJob, PlayJob, encode_job
from shared.queue.base import Delivery, QueueUnavailable

log = structlog.get_logger(__name__)

# SQS's own ceiling for a visibility change.
_MAX_VISIBILITY_S = 43_200


def send_params(job: PlayJob | ControlJob, queue_url: str) -> dict[str, Any]:
    """The SendMessage parameters for a job: pure, so the envelope is tested without SQS."""
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


def parse_message(message: dict[str, Any]) -> Delivery:
    """Turn one ReceiveMessage entry into a Delivery (malformed bodies become errors)."""
    attributes = message.get("Attributes", {})
    return Delivery.decode(
        message_id=message["MessageId"],
        receipt=message["ReceiptHandle"],
        body=message.get("Body", ""),
        group_id=attributes.get("MessageGroupId", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
    )


class SqsJobQueue:
    """A JobQueue on an SQS FIFO queue through aiobotocore.

    The client is created on first use and kept for the life of the process (a warm Lambda
    reuses it: creating one costs ~0.1 s), so construct one instance per process.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        region: str,
        endpoint_url: str | None = None,
        dead_letter_url: str | None = None,
        client: Any = None,
    ) -> None:
        self._queue_url = queue_url
        self._dead_letter_url = dead_letter_url
        self._region = region
        self._endpoint_url = endpoint_url or None
        self._client = client
        self._exit_stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def _sqs(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    config = Config(
                        connect_timeout=1.0,
                        read_timeout=25.0,
                        retries={"max_attempts": 3, "mode": "standard"},
                    )
                    creator = get_session().create_client(
                        "sqs",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=config,
                    )
                    self._client = await self._exit_stack.enter_async_context(creator)
        return self._client

    async def send(self, job: PlayJob | ControlJob) -> None:
        """Durably enqueue; SQS drops a repeat of the same job id within 5 minutes."""
        try:
            sqs = await self._sqs()
            await sqs.send_message(**send_params(job, self._queue_url))
        except (BotoCoreError, ClientError) as exc:
            log.warning("queue.send_failed", error=type(exc).__name__, **job.log_fields())
            raise QueueUnavailable("the job queue did not accept the job") from exc

    async def receive(self, *, max_messages: int = 10, wait_s: float = 20.0) -> list[Delivery]:
        """Long-poll for jobs; FIFO keeps each guild's jobs in order."""
        try:
            sqs = await self._sqs()
            response = await sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=max(1, min(max_messages, 10)),
                WaitTimeSeconds=max(0, min(round(wait_s), 20)),
                MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("the job queue could not be read") from exc
        return [parse_message(message) for message in response.get("Messages", [])]

    async def ack(self, delivery: Delivery) -> None:
        """Delete the message."""
        try:
            sqs = await self._sqs()
            await sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=delivery.receipt)
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("the job could not be acknowledged") from exc

    async def retry_later(self, delivery: Delivery, *, delay_s: float) -> None:
        """Shorten the visibility timeout so the job comes back after delay_s."""
        try:
            sqs = await self._sqs()
            await sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=delivery.receipt,
                VisibilityTimeout=max(0, min(round(delay_s), _MAX_VISIBILITY_S)),
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("the job could not be released") from exc

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        """Copy the message to the DLQ, then delete it; without a DLQ URL the redrive does it."""
        if not self._dead_letter_url:
            await self.retry_later(delivery, delay_s=0)
            return
        try:
            sqs = await self._sqs()
            await sqs.send_message(
                QueueUrl=self._dead_letter_url,
                MessageBody=delivery.body,
                MessageGroupId=delivery.group_id or "malformed",
                MessageDeduplicationId=delivery.message_id,
                MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:256]}},
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("the job could not be dead-lettered") from exc
        await self.ack(delivery)

    async def aclose(self) -> None:
        """Close the client."""
        await self._exit_stack.aclose()
        self._client = None
