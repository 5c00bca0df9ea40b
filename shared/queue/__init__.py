"""The job queue: one small interface, an SQS FIFO backend and an in-process backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.queue.base import Delivery, Inboxes, JobQueue, QueueUnavailable
from shared.queue.memory import InMemoryJobQueue

if TYPE_CHECKING:
    from shared.queue.sqs import SqsJobQueue

__all__ = ["Delivery", "InMemoryJobQueue", "Inboxes", "JobQueue", "QueueUnavailable", "SqsJobQueue"]


def __getattr__(name: str) -> object:
    # aiobotocore costs ~0.3 s to import: load it only for processes that use SQS through it,
    # so `from shared.queue import QueueUnavailable` stays cheap in the Lambda.
    if name == "SqsJobQueue":
        from shared.queue.sqs import SqsJobQueue  # noqa: PLC0415

        return SqsJobQueue
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
