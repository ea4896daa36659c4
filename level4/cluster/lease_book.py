"""Which node runs which market: leases in PostgreSQL, fenced by epochs.

Every enabled market is owned by at most one live node through a lease row
(owner, expiry, epoch). Claims and renewals are single statements on the
lease row, so PostgreSQL's row locks serialise them: two nodes racing for a
market both run the same `INSERT ... ON CONFLICT DO UPDATE ... WHERE`, and
only the one that finds the lease free (no owner, or expired) gets it. No
advisory locks and no SKIP LOCKED queue are needed, since a node asks for
particular markets (placement decides which) rather than for "any work";
expiry is judged by the database's clock alone, so nodes' clocks never have
to agree.

The epoch grows by one whenever a lease changes hands (or its owner takes it
back after letting it expire), and every event a node publishes carries it:
a consumer drops anything from an epoch older than one it has seen.

Fencing: a node must stop a market before the database could hand it to
another. Each lease is given a local deadline measured from *before* the
claim or renewal was sent (monotonic clock) minus a margin; the database's
expiry is counted from after, so the node's deadline always falls first. A
node that could not renew, whether the database is unreachable, slow, or
the process was paused, finds its deadlines passed and stops publishing
those markets (`held` answers False), without asking anyone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Engine

Clock = Callable[[], float]

# The part of a lease a node gives up to be sure it stopped before the database frees it.
SAFETY = 0.25


@dataclass(frozen=True, slots=True)
class Lease:
    market_id: int
    epoch: int
    deadline: float  # local monotonic time after which the node must not publish the market


_CLAIM = text(
    """
    INSERT INTO market_leases (market_id, owner, epoch, expires_at)
    VALUES (:market, :node, 1, now() + :ttl)
    ON CONFLICT (market_id) DO UPDATE SET
        owner = :node,
        epoch = market_leases.epoch + CASE
            WHEN market_leases.owner IS DISTINCT FROM :node OR market_leases.expires_at < now() THEN 1
            ELSE 0 END,
        expires_at = now() + :ttl
    WHERE market_leases.owner IS NULL OR market_leases.owner = :node OR market_leases.expires_at < now()
    RETURNING epoch
    """
)
# A market's weight rides on its renewal: the owner's measured frame rate, kept when it has
# none yet (a market just taken), and left in the row when the lease goes, for the next owner.
_RENEW = text(
    """
    UPDATE market_leases SET expires_at = now() + :ttl,
        weight = COALESCE(CAST(CAST(:weights AS jsonb) ->> CAST(market_id AS text) AS double precision), weight)
    WHERE owner = :node AND expires_at >= now()
    RETURNING market_id, epoch
    """
)
_RELEASE = text(
    "UPDATE market_leases SET owner = NULL, expires_at = NULL WHERE owner = :node AND market_id = ANY(:markets)"
)
_HEARTBEAT = text(
    """
    INSERT INTO cluster_nodes (name, url, started_at, last_seen, load)
    VALUES (:node, :url, now(), now(), :load)
    ON CONFLICT (name) DO UPDATE SET url = :url, last_seen = now(), load = :load
    """
)
_LEAVE = text("DELETE FROM cluster_nodes WHERE name = :node")
_LIVE = text("SELECT name FROM cluster_nodes WHERE last_seen >= now() - :grace ORDER BY name")
_NODES = text("SELECT name, url, last_seen, load, last_seen >= now() - :grace FROM cluster_nodes ORDER BY name")
_WEIGHTS = text("SELECT market_id, weight FROM market_leases")
_OWNERS = text("SELECT market_id, owner, epoch FROM market_leases WHERE owner IS NOT NULL AND expires_at >= now()")


class LeaseBook:
    """One node's side of the leases. Not thread-safe: one owner calls it (the node's
    lease keeper), on a schedule a good deal shorter than `ttl`."""

    def __init__(self, engine: Engine, node: str, ttl: float, clock: Clock = time.monotonic) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("a level4 cluster keeps its leases in PostgreSQL, not " + engine.dialect.name)
        if ttl <= SAFETY * 2:
            raise ValueError(f"a lease must last longer than {SAFETY * 2} s")
        self.engine = engine
        self.node = node
        self.ttl = ttl
        self.clock = clock
        self.leases: dict[int, Lease] = {}

    def _deadline(self, sent: float) -> float:
        return sent + self.ttl - SAFETY

    def heartbeat(self, url: str, load: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(_HEARTBEAT, {"node": self.node, "url": url, "load": load})

    def live_nodes(self, grace: float) -> list[str]:
        """Nodes whose heartbeat the database saw within `grace` seconds."""
        with self.engine.begin() as conn:
            return [row[0] for row in conn.execute(_LIVE, {"grace": timedelta(seconds=grace)})]

    def nodes(self, grace: float) -> list[tuple[str, str, datetime, float, bool]]:
        """Every node that ever joined: name, url, last heartbeat, load, and whether it is live."""
        with self.engine.begin() as conn:
            rows = conn.execute(_NODES, {"grace": timedelta(seconds=grace)}).all()
        return [(str(n), str(u), seen, float(load), bool(alive)) for n, u, seen, load, alive in rows]

    def owners(self) -> dict[int, tuple[str, int]]:
        """Every market under an unexpired lease: its owner and epoch."""
        with self.engine.begin() as conn:
            return {int(m): (str(o), int(e)) for m, o, e in conn.execute(_OWNERS)}

    def weights(self) -> dict[int, float]:
        """Every market's last published weight (leased now or not)."""
        with self.engine.begin() as conn:
            return {int(m): float(w) for m, w in conn.execute(_WEIGHTS)}

    def claim(self, market_id: int) -> Lease | None:
        """Take (or keep) a market's lease; None while another node holds it."""
        sent = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(_CLAIM, {"market": market_id, "node": self.node, "ttl": self._ttl()}).first()
        if row is None:
            self.leases.pop(market_id, None)
            return None
        lease = Lease(market_id, int(row[0]), self._deadline(sent))
        self.leases[market_id] = lease
        return lease

    def renew(self, weights: Mapping[int, float] | None = None) -> tuple[dict[int, Lease], list[int]]:
        """Extend every lease this node still holds, publishing its markets' `weights`;
        returns the leases, and the markets whose leases were lost (expired or taken),
        which the node must stop."""
        sent = self.clock()
        published = orjson.dumps({str(m): w for m, w in (weights or {}).items()}).decode()
        with self.engine.begin() as conn:
            rows = conn.execute(_RENEW, {"node": self.node, "ttl": self._ttl(), "weights": published}).all()
        held = {int(m): Lease(int(m), int(e), self._deadline(sent)) for m, e in rows}
        lost = [m for m in self.leases if m not in held or held[m].epoch != self.leases[m].epoch]
        self.leases = held
        return held, lost

    def release(self, market_ids: Iterable[int]) -> None:
        """Hand markets back at once (a clean shutdown, or placement moving them)."""
        ids = list(market_ids)
        if not ids:
            return
        for m in ids:
            self.leases.pop(m, None)
        with self.engine.begin() as conn:
            conn.execute(_RELEASE, {"node": self.node, "markets": ids})

    def leave(self) -> None:
        """A clean shutdown: the node is no member any more, so the others place its
        markets at their next tick rather than once its heartbeat is old."""
        with self.engine.begin() as conn:
            conn.execute(_LEAVE, {"node": self.node})

    def held(self, market_id: int) -> Lease | None:
        """The lease, if this node may still publish the market by its own clock."""
        lease = self.leases.get(market_id)
        if lease is None or self.clock() >= lease.deadline:
            return None
        return lease

    def _ttl(self) -> timedelta:
        return timedelta(seconds=self.ttl)
