"""What a sink reports in /health: written by its own loop, read by the API."""

from __future__ import annotations

import threading
import time
from enum import StrEnum
from typing import Any

from level4.sinks.outbox import Outbox
from level4.sinks.spec import SinkSpec


class SinkStatus(StrEnum):
    CONNECTING = "connecting"  # first attempt, not yet known to work
    UP = "up"
    DOWN = "down"  # unreachable or failing; retried with backoff
    STOPPED = "stopped"


class SinkState:
    def __init__(self, spec: SinkSpec, outbox: Outbox) -> None:
        self.spec = spec
        self.outbox = outbox
        self._lock = threading.Lock()
        self.status = SinkStatus.STOPPED
        self.reason: str | None = None
        self.since = time.time()
        self.delivered = 0
        self.unencodable = 0  # events no serialiser could write; skipped
        self.attempts = 0  # failed connects or sends since it was last up
        self.failures = 0  # failed connects or sends, ever
        self.retry_at: float | None = None

    def set(self, status: SinkStatus, reason: str | None = None, retry_in: float | None = None) -> None:
        with self._lock:
            if status is not self.status:
                self.since = time.time()
            self.status = status
            self.reason = reason
            self.retry_at = None if retry_in is None else time.time() + retry_in
            if status is SinkStatus.DOWN:
                self.attempts += 1
                self.failures += 1
            elif status is SinkStatus.UP:
                self.attempts = 0

    def add_delivered(self, n: int) -> None:
        with self._lock:
            self.delivered += n

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "name": self.spec.name,
                "kind": self.spec.kind,
                "url": self.spec.shown_url,
                "status": str(self.status),
                "reason": self.reason,
                "since": self.since,
                "retry_at": self.retry_at,
                "attempts": self.attempts,
                "failures": self.failures,
                "delivered": self.delivered,
                "queued": len(self.outbox),
                "dropped": self.outbox.dropped,
                "unencodable": self.unencodable,
                "queue_capacity": self.outbox.capacity,
            }
