"""The JobQueue interface shared by the SQS and in-process backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from shared.jobs import AnyJob, MalformedJob, decode_job


class QueueUnavailable(RuntimeError):
    """The queue could not take or give a message now; the caller may try again later."""


@dataclass(frozen=True)
class Delivery:
    """One received message: the job, or why it could not be decoded, and how to settle it."""

    message_id: str
    receipt: str = field(repr=False)
    body: str = field(repr=False)
    group_id: str
    receive_count: int
    job: AnyJob | None
    error: str | None = None
    # Receives the job had in queues it was forwarded from (worker inboxes): receive_count
    # includes them, so a poison job's attempts stay bounded across forwards.
    prior_receives: int = 0

    @classmethod
    def decode(
        cls,
        *,
        message_id: str,
        receipt: str,
        body: str,
        group_id: str,
        receive_count: int,
        prior_receives: int = 0,
    ) -> Delivery:
        """Build a delivery, keeping a malformed body as an error instead of raising."""
        try:
            job: AnyJob | None = decode_job(body)
            error = None
        except MalformedJob as exc:
            job, error = None, str(exc)
        return cls(
            message_id=message_id,
            receipt=receipt,
            body=body,
            group_id=group_id,
            receive_count=receive_count + prior_receives,
            job=job,
            error=error,
            prior_receives=prior_receives,
        )


class JobQueue(Protocol):
    """What the front door and the workers need from a queue of jobs."""

    async def send(self, job: AnyJob) -> None:
        """Durably enqueue a job; the same job id sent twice is enqueued once."""

    async def receive(
        self, *, max_messages: int = 10, wait_s: float = 20.0, visibility_s: float | None = None
    ) -> list[Delivery]:
        """Wait up to wait_s for deliveries, keeping each guild's jobs in order.

        visibility_s overrides the queue's visibility timeout for these deliveries (a router
        holds a message for milliseconds: one taken by a receive that dies with its worker
        should come back soon).
        """

    async def ack(self, delivery: Delivery) -> None:
        """The job is done (or answered): remove it for good."""

    async def retry_later(self, delivery: Delivery, *, delay_s: float) -> None:
        """Make the job visible again after delay_s for another attempt."""

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        """Move a job that can never succeed aside for the operator, off the main queue."""

    async def aclose(self) -> None:
        """Release connections."""


class Inboxes(Protocol):
    """Per-worker FIFO inboxes next to the shared jobs queue (docs/architecture.md, routing).

    Only the SQS backend has them: the embedded mode runs one worker, which needs no routing.
    """

    def inbox_url(self, worker_id: str) -> str:
        """The URL a worker's inbox has (or would have): derived from the jobs queue's."""

    async def create_inbox(self, worker_id: str) -> str:
        """Create (or find) the worker's inbox and return its URL."""

    async def list_inboxes(self) -> list[str]:
        """URLs of every worker inbox of this jobs queue."""

    async def inbox_empty(self, queue_url: str) -> bool:
        """Whether the queue holds no message, visible or in flight."""

    async def delete_inbox(self, queue_url: str) -> None:
        """Delete an inbox (only once it is empty: its messages would go with it)."""

    async def forward(self, delivery: Delivery, queue_url: str, *, attempted: bool) -> None:
        """Send the delivery's message unchanged to another queue (same group, same order).

        attempted: whether receives from the current queue were handling attempts (an inbox)
        rather than routing (the shared queue); they then count towards the job's bound.
        """

    def at(self, queue_url: str) -> JobQueue:
        """A JobQueue reading another queue (an inbox) through the same client."""
