"""What the fake saw: every REST request, and every protocol violation as a failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    """One REST request and the fake's answer."""

    seq: int
    method: str
    path: str
    query: dict[str, str]
    operation_id: str | None
    auth: str  # "bot" (valid bot token), "none", or "invalid"
    content_type: str | None
    body: Any
    status: int
    response: Any
    failure: str | None = None
    fault: str | None = None
    at_wall: float = field(default_factory=time.time)
    at_monotonic: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass
class Failure:
    """Something the client did that Discord would reject or that breaks its rules."""

    source: str  # rest | gateway | voice | udp | interaction
    reason: str
    detail: Any = None
    at_wall: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


class Recorder:
    """Append-only logs of requests and failures, with a change callback for waiters."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.requests: list[RecordedRequest] = []
        self.failures: list[Failure] = []
        self._on_change = on_change

    def next_seq(self) -> int:
        """The sequence number for the next recorded request."""
        return len(self.requests) + 1

    def add_request(self, request: RecordedRequest) -> None:
        """Record a request; a request with ``failure`` also lands in :attr:`failures`."""
        self.requests.append(request)
        if request.failure is not None:
            self.failures.append(
                Failure(
                    "rest",
                    request.failure,
                    {
                        "method": request.method,
                        "path": request.path,
                        "status": request.status,
                        "response": request.response,
                    },
                )
            )
        self._on_change()

    def fail(self, source: str, reason: str, detail: Any = None) -> None:
        """Record a protocol failure outside the REST pipeline."""
        self.failures.append(Failure(source, reason, detail))
        self._on_change()

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self.requests.clear()
        self.failures.clear()
