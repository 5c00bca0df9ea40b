"""What every command module shares: the reply type, the injected services, handler shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shared.jobs import AnyJob

if TYPE_CHECKING:
    from interactions.context import Interaction
    from interactions.store_access import FrontDoorStore
    from interactions.wake import WorkerWaker


class JobSender(Protocol):
    """The only part of a JobQueue the front door uses (any JobQueue is one)."""

    async def send(self, job: AnyJob) -> None:
        """Durably enqueue a job (idempotent per job id)."""

    async def aclose(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class Reply:
    """An interaction callback body, and the outcome word for the log line."""

    body: dict[str, Any]
    outcome: str


@dataclass(frozen=True)
class Services:
    """Everything a command may need, injected by the app factory (never module globals)."""

    queue: JobSender
    enqueue_timeout_s: float
    max_query_length: int
    allow_private_sources: bool = False
    # The state store (queue, history, playlists, settings, DJ role); None: not configured.
    store: FrontDoorStore | None = None
    # Wakes the worker service from zero after a /play; None: waking is off.
    waker: WorkerWaker | None = None
    wake_timeout_s: float = 1.0
    max_queue_length: int = 500


Handler = Callable[["Services", "Interaction"], Awaitable[Reply]]
