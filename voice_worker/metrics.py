"""Counters the health endpoint exposes; one instance per worker process."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class WorkerCounters:
    """Monotonic job counters (since process start)."""

    jobs_received: int = 0
    jobs_succeeded: int = 0
    # The requester got an error answer (their mistake, a dead source, or our bug).
    jobs_failed: int = 0
    jobs_retried: int = 0
    jobs_dead_lettered: int = 0
    jobs_duplicate: int = 0
    malformed: int = 0

    def as_dict(self) -> dict[str, int]:
        """A plain dict for JSON."""
        return asdict(self)
