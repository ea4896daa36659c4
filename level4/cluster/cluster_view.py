"""What a node knows of its cluster, as of its keeper's last tick: read by the API
(forwarding, /cluster, a market's `node` and `epoch`), the metrics and the event bus.

The keeper writes it; every reader gets a consistent copy under one lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class NodeRow:
    name: str
    url: str
    last_seen: datetime
    load: float
    alive: bool


@dataclass(slots=True)
class KeeperCounts:
    """Counters for /metrics: what this node's keeper did to its leases and markets."""

    renewals: int = 0  # lease renewal statements that succeeded
    lost: int = 0  # leases lost: not renewed in time, or taken by another node
    taken: int = 0  # markets this node started under a lease it claimed
    released: int = 0  # markets this node handed back (moved by placement, disabled, shutdown)
    failovers: int = 0  # markets taken from a node that had stopped heartbeating
    failed_ticks: int = 0  # ticks the database did not answer


@dataclass
class ClusterView:
    node: str
    url: str
    held: Callable[[int], bool] = field(default=lambda _m: False)  # this node may publish the market now
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _owners: dict[int, tuple[str, int]] = field(default_factory=dict)
    _nodes: list[NodeRow] = field(default_factory=list)
    _enabled: frozenset[int] = frozenset()
    counts: KeeperCounts = field(default_factory=KeeperCounts)
    # node -> (when heard, market -> its status there), as the status poller last heard it
    _remote: dict[str, tuple[float, dict[int, dict[str, Any]]]] = field(default_factory=dict)

    def update(self, owners: dict[int, tuple[str, int]], nodes: list[NodeRow], enabled: frozenset[int]) -> None:
        with self._lock:
            self._owners = dict(owners)
            self._nodes = list(nodes)
            self._enabled = enabled

    def set_owner(self, market_id: int, node: str | None, epoch: int = 0) -> None:
        """A change this node made itself, seen at once rather than at the next tick."""
        with self._lock:
            if node is None:
                self._owners.pop(market_id, None)
            else:
                self._owners[market_id] = (node, epoch)

    def peers(self) -> list[tuple[str, str]]:
        """The other live nodes: name and URL."""
        with self._lock:
            return [(n.name, n.url) for n in self._nodes if n.alive and n.name != self.node]

    def mine(self) -> dict[int, int]:
        """The markets this node runs, with their epochs."""
        with self._lock:
            return {m: epoch for m, (name, epoch) in self._owners.items() if name == self.node}

    def set_remote_statuses(self, node: str, statuses: dict[int, dict[str, Any]], at: float) -> None:
        with self._lock:
            self._remote[node] = (at, statuses)

    def remote_status(self, market_id: int, max_age: float) -> dict[str, Any] | None:
        """The status the market's owner gave for it under its current epoch, if heard within
        `max_age` seconds (monotonic)."""
        with self._lock:
            owner = self._owners.get(market_id)
            if owner is None or owner[0] == self.node or owner[0] not in self._remote:
                return None
            at, statuses = self._remote[owner[0]]
        status = statuses.get(market_id)
        if status is None or time.monotonic() - at > max_age or status.get("epoch") != owner[1]:
            return None
        return status

    def runs_here(self, market_id: int) -> bool:
        return self.held(market_id)

    def owner(self, market_id: int) -> tuple[str, int] | None:
        """The market's owner and epoch, when its lease was unexpired at the last look."""
        with self._lock:
            return self._owners.get(market_id)

    def owner_url(self, market_id: int) -> str | None:
        """Where the market's owner answers, if the owner is a live node."""
        with self._lock:
            owner = self._owners.get(market_id)
            if owner is None:
                return None
            row = next((n for n in self._nodes if n.name == owner[0] and n.alive), None)
            return row.url if row is not None else None

    def enabled(self, market_id: int) -> bool:
        with self._lock:
            return market_id in self._enabled

    def describe(self) -> dict[str, Any]:
        """The body of GET /cluster."""
        with self._lock:
            owners, nodes = dict(self._owners), list(self._nodes)
        by_node: dict[str, list[int]] = {}
        for market_id, (name, _epoch) in sorted(owners.items()):
            by_node.setdefault(name, []).append(market_id)
        return {
            "node": self.node,
            "nodes": [
                {
                    "name": n.name,
                    "url": n.url,
                    "alive": n.alive,
                    "last_seen": n.last_seen.isoformat(),
                    "markets": by_node.get(n.name, []),
                    "load": n.load,
                }
                for n in nodes
            ],
        }
