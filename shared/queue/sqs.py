"""SQS FIFO backend: MessageGroupId = guild id (order per guild), dedup id = interaction id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import structlog
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.jobs import AnyJob, encode_job
from shared.queue.base import Delivery, QueueUnavailable

log = structlog.get_logger(__name__)

# SQS's own ceiling for a visibility change.
_MAX_VISIBILITY_S = 43_200
# An inbox's default visibility, for receives that set none (the worker's consumer sets a short
# one and extends it while it holds a delivery: voice_worker/holding.py).
INBOX_VISIBILITY_S = 60
# Message attribute: receives in the inboxes a job was forwarded from (Delivery.prior_receives).
PRIOR_RECEIVES = "prior_receives"
_NAME_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def inbox_name(jobs_queue_url: str, worker_id: str) -> str:
    """`<jobs queue name without .fifo>-inbox-<worker id>.fifo`, within SQS's 80 characters."""
    base = jobs_queue_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".fifo")
    suffix = _NAME_SAFE.sub("-", worker_id)[:32]
    return f"{base[: 80 - len(suffix) - len('-inbox-.fifo')]}-inbox-{suffix}.fifo"


def tls_only_policy(queue_arn: str) -> str:
    """The queue policy refusing plain-HTTP access, as infra/queues.yml gives the jobs queues."""
    statement = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def inbox_prefix(jobs_queue_url: str) -> str:
    """The name prefix shared by every inbox of a jobs queue."""
    return inbox_name(jobs_queue_url, "").removesuffix(".fifo")


def send_params(job: AnyJob, queue_url: str) -> dict[str, Any]:
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
    prior = message.get("MessageAttributes", {}).get(PRIOR_RECEIVES, {}).get("StringValue", "0")
    return Delivery.decode(
        prior_receives=int(prior) if prior.isdigit() else 0,
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
        parent: SqsJobQueue | None = None,
    ) -> None:
        self._parent = parent
        self._queue_url = queue_url
        self._dead_letter_url = dead_letter_url
        self._region = region
        self._endpoint_url = endpoint_url or None
        self._client = client
        self._exit_stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    async def _sqs(self) -> Any:
        if self._parent is not None:
            return await self._parent._sqs()  # one client per process
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

    async def send(self, job: AnyJob) -> None:
        """Durably enqueue; SQS drops a repeat of the same job id within 5 minutes."""
        try:
            sqs = await self._sqs()
            await sqs.send_message(**send_params(job, self._queue_url))
        except (BotoCoreError, ClientError) as exc:
            log.warning("queue.send_failed", error=type(exc).__name__, **job.log_fields())
            raise QueueUnavailable("the job queue did not accept the job") from exc

    async def receive(
        self, *, max_messages: int = 10, wait_s: float = 20.0, visibility_s: float | None = None
    ) -> list[Delivery]:
        """Long-poll for jobs; FIFO keeps each guild's jobs in order."""
        extra: dict[str, Any] = {}
        if visibility_s is not None:
            extra["VisibilityTimeout"] = max(0, min(round(visibility_s), _MAX_VISIBILITY_S))
        try:
            sqs = await self._sqs()
            response = await sqs.receive_message(
                **extra,
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=max(1, min(max_messages, 10)),
                WaitTimeSeconds=max(0, min(round(wait_s), 20)),
                MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
                MessageAttributeNames=[PRIOR_RECEIVES],
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

    # --- inboxes (shared.queue.base.Inboxes) ----------------------------------------------
    def inbox_url(self, worker_id: str) -> str:
        """The URL of the worker's inbox: same endpoint and account as the jobs queue."""
        base = self._queue_url.rstrip("/").rsplit("/", 1)[0]
        return f"{base}/{inbox_name(self._queue_url, worker_id)}"

    def at(self, queue_url: str) -> SqsJobQueue:
        """A queue object for another URL, sharing this one's client and DLQ."""
        return SqsJobQueue(
            queue_url,
            region=self._region,
            endpoint_url=self._endpoint_url,
            dead_letter_url=self._dead_letter_url,
            parent=self,
        )

    async def create_inbox(self, worker_id: str) -> str:
        """Create the worker's FIFO inbox, TLS-only like the jobs queues (idempotent); its URL.

        The policy is set after creation rather than in CreateQueue: CreateQueue fails on an
        existing queue whose attributes differ (an inbox a worker of an older version created
        under the same worker id), and this way the ARN is read, not guessed.
        """
        try:
            sqs = await self._sqs()
            response = await sqs.create_queue(
                QueueName=inbox_name(self._queue_url, worker_id),
                Attributes={
                    "FifoQueue": "true",
                    "ContentBasedDeduplication": "false",
                    "VisibilityTimeout": str(INBOX_VISIBILITY_S),
                    "MessageRetentionPeriod": str(4 * 24 * 3600),
                },
            )
            url = str(response["QueueUrl"])
            described = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            arn = str(described["Attributes"]["QueueArn"])
            await sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": tls_only_policy(arn)}
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("the worker's inbox could not be created") from exc
        return url

    async def list_inboxes(self) -> list[str]:
        """Every inbox of this jobs queue, by URL."""
        try:
            sqs = await self._sqs()
            response = await sqs.list_queues(QueueNamePrefix=inbox_prefix(self._queue_url))
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("the inboxes could not be listed") from exc
        return [str(url) for url in response.get("QueueUrls", [])]

    async def inbox_empty(self, queue_url: str) -> bool:
        """No visible, in-flight or delayed message (approximate, as SQS's counters are)."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        try:
            sqs = await self._sqs()
            response = await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
        except ClientError as exc:
            if _missing_queue(exc):
                return True
            raise QueueUnavailable("the inbox could not be inspected") from exc
        except BotoCoreError as exc:
            raise QueueUnavailable("the inbox could not be inspected") from exc
        attributes = response.get("Attributes", {})
        return all(int(attributes.get(name, "0")) == 0 for name in names)

    async def delete_inbox(self, queue_url: str) -> None:
        """Delete the queue; a queue already gone is fine."""
        try:
            sqs = await self._sqs()
            await sqs.delete_queue(QueueUrl=queue_url)
        except ClientError as exc:
            if not _missing_queue(exc):
                raise QueueUnavailable("the inbox could not be deleted") from exc
        except BotoCoreError as exc:
            raise QueueUnavailable("the inbox could not be deleted") from exc

    async def forward(self, delivery: Delivery, queue_url: str, *, attempted: bool) -> None:
        """Send the message as received to queue_url, deduplicated per source message.

        The dedup id names the job AND the message it was forwarded from: forwarding the same
        received message twice (a router died between forward and ack) is dropped by SQS, but
        the same job may still enter an inbox again by another path within the 5 minute dedup
        window (a -> b, b dies, its inbox is routed back to a) instead of being lost there.
        """
        job = delivery.job
        dedup = f"{job.job_id}-{delivery.message_id}" if job is not None else delivery.message_id
        prior = delivery.receive_count - 1 if attempted else delivery.prior_receives
        try:
            sqs = await self._sqs()
            await sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=delivery.body,
                MessageGroupId=delivery.group_id or "ungrouped",
                MessageDeduplicationId=dedup,
                MessageAttributes={
                    PRIOR_RECEIVES: {"DataType": "Number", "StringValue": str(max(0, prior))}
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable("the job could not be forwarded") from exc

    async def aclose(self) -> None:
        """Close the client (a queue made by ``at`` leaves it to its parent)."""
        if self._parent is not None:
            return
        await self._exit_stack.aclose()
        self._client = None


def _missing_queue(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return "NonExistentQueue" in code or "QueueDoesNotExist" in code
