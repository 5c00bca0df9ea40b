"""Fault injection: answer matching REST requests with a 429, a 5xx or any canned error."""

from __future__ import annotations

import fnmatch
import math
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

_REASONS = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


@dataclass
class Fault:
    """A rule: the next ``times`` requests matching method/path/operation get this answer."""

    status: int
    method: str = "*"
    path: str = "*"  # glob on the path after /api/v10, e.g. "/channels/*/messages"
    operation_id: str | None = None
    times: int | None = 1  # None: forever
    retry_after_s: float = 1.0
    is_global: bool = False
    scope: str = "user"
    body: dict[str, Any] | None = None
    hits: int = 0
    id: str = field(default_factory=lambda: secrets.token_hex(4))

    def matches(self, method: str, path: str, operation_id: str | None) -> bool:
        """Whether this rule applies to a request."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        if self.operation_id is not None and self.operation_id != operation_id:
            return False
        return fnmatch.fnmatchcase(path, self.path)

    def response(self) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Status, headers and JSON body to answer with."""
        if self.status == 429:
            retry = self.retry_after_s
            headers = {
                "Retry-After": str(max(1, math.ceil(retry))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                "X-RateLimit-Reset-After": f"{retry:.3f}",
                "X-RateLimit-Bucket": "fakefault" + self.id,
                "X-RateLimit-Scope": "global" if self.is_global else self.scope,
            }
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            body = self.body or {
                "message": "You are being rate limited.",
                "retry_after": retry,
                "global": self.is_global,
            }
            return 429, headers, body
        body = self.body or {"message": _REASONS.get(self.status, f"{self.status}"), "code": 0}
        return self.status, {}, body

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


class FaultInjector:
    """The active fault rules, first match wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Install a rule and return it (its ``hits`` counts uses)."""
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The installed rules."""
        return list(self._faults)

    def take(self, method: str, path: str, operation_id: str | None) -> Fault | None:
        """The first rule matching this request, with its use counted."""
        for fault in self._faults:
            if fault.matches(method, path, operation_id):
                fault.hits += 1
                return fault
        return None
