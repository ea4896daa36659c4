"""Actual status of every market, in memory (the desired state is the
catalogue's `level4_feed_enabled`). Written by a market's actors, read by
the HTTP API, the console and the health check."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    SYNCHRONISING = "synchronising"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass(slots=True)
class MarketState:
    status: Status = Status.STOPPED
    reason: str | None = None
    since: float = field(default_factory=time.time)
    frames: int = 0
    malformed: int = 0
    resyncs: int = 0
    reconnects: int = 0
    checksum_failures: int = 0
    restarts: int = 0
    last_frame_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = str(self.status)
        return out


class StatusBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[int, MarketState] = {}

    def get(self, market_id: int) -> MarketState:
        with self._lock:
            return self._states.setdefault(market_id, MarketState())

    def set(self, market_id: int, status: Status, reason: str | None = None) -> None:
        with self._lock:
            state = self._states.setdefault(market_id, MarketState())
            if state.status is not status or state.reason != reason:
                state.status, state.reason, state.since = status, reason, time.time()

    def count(self, market_id: int, **increments: int) -> None:
        with self._lock:
            state = self._states.setdefault(market_id, MarketState())
            for name, n in increments.items():
                setattr(state, name, getattr(state, name) + n)

    def frames_seen(self, market_id: int, n: int, at: float) -> None:
        with self._lock:
            state = self._states.setdefault(market_id, MarketState())
            state.frames += n
            state.last_frame_at = at

    def status(self, market_id: int) -> Status:
        with self._lock:
            state = self._states.get(market_id)
            return state.status if state else Status.STOPPED

    def snapshot(self) -> dict[int, MarketState]:
        with self._lock:
            return {k: MarketState(**asdict(v)) for k, v in self._states.items()}
