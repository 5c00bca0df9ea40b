"""The JobQueue interface shared by the SQS and in-process backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from shared.jobs import ControlJob, MalformedJob, PlayJob, decode_job


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
    job: PlayJob | ControlJob | None
    error: str | None = None

    @classmethod
    def decode(
        cls, *, message_id: str, receipt: str, body: str, group_id: str, receive_count: int
    ) -> Delivery:
        """Build a delivery, keeping a malformed body as an error instead of raising."""
        try:
            job: PlayJob | ControlJob | None = decode_job(body)
            error = None
        except MalformedJob as exc:
            job, error = None, str(exc)
        return cls(
            message_id=message_id,
            receipt=receipt,
            body=body,
            group_id=group_id,
            receive_count=receive_count,
            job=job,
            error=error,
        )


class JobQueue(Protocol):
    """What the front door and the workers need from a queue of jobs."""

    async def send(self, job: PlayJob | ControlJob) -> None:
        """Durably enqueue a job; the same job id sent twice is enqueued once."""

    async def receive(self, *, max_messages: int = 10, wait_s: float = 20.0) -> list[Delivery]:
        """Wait up to wait_s for deliveries, keeping each guild's jobs in order."""

    async def ack(self, delivery: Delivery) -> None:
        """The job is done (or answered): remove it for good."""

    async def retry_later(self, delivery: Delivery, *, delay_s: float) -> None:
        """Make the job visible again after delay_s for another attempt."""

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        """Move a job that can never succeed aside for the operator, off the main queue."""

    async def aclose(self) -> None:
        """Release connections."""
