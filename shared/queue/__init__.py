"""The job queue: one small interface, an SQS FIFO backend and an in-process backend."""

from shared.queue.base import Delivery, JobQueue, QueueUnavailable
from shared.queue.memory import InMemoryJobQueue
from shared.queue.sqs import SqsJobQueue

__all__ = ["Delivery", "InMemoryJobQueue", "JobQueue", "QueueUnavailable", "SqsJobQueue"]
