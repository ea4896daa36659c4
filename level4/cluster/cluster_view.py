"""What a node knows of its cluster, as of its keeper's last tick: read by the API
(forwarding, /cluster, a market's `node` and `epoch`), the metrics and the event bus.

The keeper writes it; every reader gets a consistent copy under one lock.
"""

from __future__ import annotations

import threading
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
