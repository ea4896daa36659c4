"""The cluster keeper: one actor per node that keeps the node's share of the markets.

Every tick (a third of the lease's life) it heartbeats, renews its leases
(publishing its markets' smoothed frame rates, their weights), reads the
enabled markets, the live nodes and the weights, and places the markets
(placement.assign, the same answer on every node for the same inputs, a
market kept by its owner unless the imbalance is real); it
then stops and releases what is no longer its own and claims and starts
what is. Enabling or disabling a market (PATCH on any node) is seen at the
next tick: the keeper polls the catalogue rather than LISTEN for NOTIFY, as
it reads the tables each tick anyway and a poll needs no connection held
open (which a database cut would break without a word) and misses nothing.

Fencing does not wait for the database: a watchdog thread stops every
market whose lease deadline (LeaseBook.held, by the node's own clock) has
passed, and each market's publisher checks the same deadline before every
event, so a node that is paused, cut off or slow publishes nothing once
another node could hold the market.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from level4.catalogue import Catalogue
from level4.catalogue.catalogue_errors import CatalogueError
from level4.catalogue.db import make_engine
from level4.cluster.cluster_view import ClusterView, NodeRow
from level4.cluster.frame_rates import FrameRates
from level4.cluster.lease_book import LeaseBook
from level4.cluster.placement import Placed, assign
from level4.service.markets import MarketControl
from level4.supervision import scheduler
from level4.supervision.supervised import SupervisedActor, describe_reason

log = structlog.get_logger(__name__)

# A market's weight when its frame rate is not known: idle markets still count.
WEIGHT_FLOOR = 1.0
# How often the watchdog looks at the lease deadlines: well inside the margin LeaseBook keeps.
WATCH_INTERVAL = 0.05
# A database statement that takes longer cannot renew a lease in time anyway.
STATEMENT_TIMEOUT_MS = 2000


class _Tick:
    pass


class ClusterKeeper(SupervisedActor):
    # Its own thread: every tick makes database round trips that may hang while the database is away.
    dispatcher = "thread"

    def __init__(
        self,
        url: str,
        view: ClusterView,
        markets: MarketControl,
        ttl: float,
        group: int = 200,
        weight_window: float = 120.0,
        **supervision: Any,
    ) -> None:
        super().__init__(**supervision)
        self.rates = FrameRates(lambda m: markets.board.get(m).frames, weight_window)
        self.group = group  # markets of a venue placed together
        self.url = url
        self.view = view
        self.markets = markets
        self.ttl = ttl
        self.interval = ttl / 3
        self.engine: Engine | None = None
        self.book: LeaseBook | None = None
        self.catalogue: Catalogue | None = None
        self.local: dict[int, int] = {}  # market -> the epoch this node runs it under
        self.last_owner: dict[int, str] = {}  # market -> the last node seen holding it
        self._lock = threading.Lock()  # the tick and the watchdog both stop markets
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._timer: scheduler.TimerHandle | None = None

    # --- lifetime ---------------------------------------------------------------------------

    def on_start(self) -> None:
        self.engine = make_engine(self.url)
        event.listen(self.engine, "connect", _statement_timeout)
        self.book = LeaseBook(self.engine, self.view.node, self.ttl)
        self.catalogue = Catalogue(self.url)
        self.view.held = self._held
        self._watchdog = threading.Thread(target=self._watch, name="level4-lease-watchdog", daemon=True)
        self._watchdog.start()
        self.actor_ref.tell(_Tick())

    def on_stop(self) -> None:
        """A clean stop: every market silenced, then its lease handed back at once, so
        another node takes it at its next tick rather than after the lease expires."""
        self._stopping.set()
        if self._timer is not None:
            self._timer.cancel()
        # Fenced first: with its epoch gone from `local`, a market's publisher drops every
        # event from here on. Its tree is stopped by the root next (the root is busy stopping
        # this actor and could not be asked to stop it now).
        with self._lock:
            ids = list(self.local)
            self.local.clear()
        if self.book is not None:
            try:
                self.book.release(ids)
                self.book.leave()
                self.view.counts.released += len(ids)
                log.info("cluster_node_left", node=self.view.node, released=ids)
            except sa_exc.SQLAlchemyError as exc:  # the leases expire by themselves
                log.warning("cluster_release_failed", node=self.view.node, reason=describe_reason(exc))
        if self._watchdog is not None:
            self._watchdog.join(timeout=2)
        if self.catalogue is not None:
            self.catalogue.close()
        if self.engine is not None:
            self.engine.dispose()

    def on_failure(self, *_exc_info: object) -> None:
        # A keeper that crashed keeps nothing running: its watchdog ends, its leases lapse
        # (the fences of its markets' publishers with them), and its restart claims afresh.
        self._stopping.set()
        if self._timer is not None:
            self._timer.cancel()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Tick):
            started = time.monotonic()
            try:
                self.tick()
            finally:
                if not self._stopping.is_set():
                    delay = max(0.0, self.interval - (time.monotonic() - started))
                    self._timer = scheduler.call_later(delay, self._tell_tick)
        return None

    def _tell_tick(self) -> None:
        if not self._stopping.is_set():
            self.actor_ref.tell(_Tick())

    # --- fencing ----------------------------------------------------------------------------

    def _held(self, market_id: int) -> bool:
        book = self.book
        if book is None:
            return False
        lease = book.held(market_id)
        return lease is not None and lease.epoch == self.local.get(market_id)

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL):
            expired = [m for m in list(self.local) if not self._held(m)]
            if not expired:
                continue
            with self._lock:
                for market_id in expired:
                    if market_id in self.local and not self._held(market_id):
                        self.view.counts.lost += 1
                        self._stop_local(market_id, "lease deadline passed")

    # --- the tick ---------------------------------------------------------------------------

    def tick(self) -> None:
        assert self.book is not None and self.catalogue is not None
        book, node = self.book, self.view.node
        try:
            rates = self.rates.sample(list(self.local), time.monotonic())
            load = sum(max(rates.get(m, WEIGHT_FLOOR), WEIGHT_FLOOR) for m in self.local)
            book.heartbeat(self.view.url, load)
            held, lost = book.renew(rates)
            self.view.counts.renewals += 1
            enabled = self.catalogue.list_markets(True)
            rows = book.nodes(grace=self.ttl)
            owners = book.owners()
            weights = book.weights()
        except (sa_exc.SQLAlchemyError, CatalogueError) as exc:
            # The watchdog stops the markets as their deadlines pass; nothing more to do here.
            self.view.counts.failed_ticks += 1
            log.warning("cluster_tick_failed", node=node, reason=describe_reason(exc))
            return
        live = [n for n, _url, _seen, _load, alive in rows if alive]
        self.view.update(
            owners,
            [NodeRow(n, u, seen, load, alive) for n, u, seen, load, alive in rows],
            frozenset(int(m["id"]) for m in enabled),
        )
        with self._lock:
            for market_id in lost:
                if market_id in self.local:
                    self.view.counts.lost += 1
                    self._stop_local(market_id, "lease lost")
            # Markets running here whose lease this node no longer has (stopped by the watchdog meanwhile too).
            for market_id in [m for m in self.local if m not in held]:
                self._stop_local(market_id, "lease lost")
        placed = [
            Placed(int(m["id"]), str(m["exchange"]), max(weights.get(int(m["id"]), 0.0), WEIGHT_FLOOR)) for m in enabled
        ]
        current = {m: owner for m, (owner, _epoch) in owners.items()}
        wanted = {m for m, n in assign(placed, live, self.group, current=current).items() if n == node}
        leaving = [m for m in self.local if m not in wanted]
        if leaving:
            with self._lock:
                for market_id in leaving:
                    self._stop_local(market_id, "placed elsewhere or disabled")
            try:
                book.release(leaving)
                self.view.counts.released += len(leaving)
                for market_id in leaving:
                    self.view.set_owner(market_id, None)
            except sa_exc.SQLAlchemyError as exc:
                log.warning("cluster_release_failed", node=node, reason=describe_reason(exc))
        for market in enabled:
            market_id = int(market["id"])
            if market_id not in wanted or market_id in self.local:
                continue
            self._take(market, owners.get(market_id), live)
        for market_id, (owner, _epoch) in owners.items():
            self.last_owner[market_id] = owner

    def _take(self, market: dict[str, Any], owner: tuple[str, int] | None, live: list[str]) -> None:
        assert self.book is not None
        market_id, node = int(market["id"]), self.view.node
        if owner is not None and owner[0] != node and owner[0] in live:
            return  # its owner is alive and has not let go yet; placement moves it at its next tick
        ran_under = self.markets.publisher(market_id, str(market["tag"])).epoch
        try:
            lease = self.book.claim(market_id)
            if lease is not None and lease.epoch <= ran_under:
                # Still this node's lease (its watchdog stopped the market at the local deadline
                # and the database renewed it after): handed back and taken again, the epoch
                # grows, so the sequence starting again at 1 is never within one epoch.
                self.book.release([market_id])
                lease = self.book.claim(market_id)
        except sa_exc.SQLAlchemyError as exc:
            log.warning("cluster_claim_failed", market=market["tag"], node=node, reason=describe_reason(exc))
            return
        if lease is None:
            return
        previous = self.last_owner.get(market_id)
        with self._lock:
            if market_id in self.markets.running():
                # A tree left from an earlier epoch: its book must not go on under the new one.
                self._stop_local(market_id, "restarted under a new lease")
            publisher = self.markets.publisher(market_id, str(market["tag"]))
            self.local[market_id] = lease.epoch
            publisher.take(lease.epoch, lambda: self._held(market_id), time.time(), node)
            try:
                self.markets.start(market)
            except Exception as exc:  # one market that cannot start must not stop the others
                self.local.pop(market_id, None)
                log.error("cluster_market_start_failed", market=market["tag"], reason=describe_reason(exc))
                failed = True
            else:
                failed = False
        if failed:
            with contextlib.suppress(sa_exc.SQLAlchemyError):  # else it expires by itself
                self.book.release([market_id])  # another node may do better
            return
        self.view.set_owner(market_id, node, lease.epoch)
        self.view.counts.taken += 1
        failover = previous is not None and previous != node and previous not in live
        if failover:
            self.view.counts.failovers += 1
        log.info(
            "cluster_market_taken",
            market=market["tag"],
            node=node,
            epoch=lease.epoch,
            previous=previous,
            failover=failover,
        )

    def _stop_local(self, market_id: int, why: str) -> None:
        """Stop a market this node runs (under the lock)."""
        epoch = self.local.pop(market_id, None)
        try:
            self.markets.stop(market_id)
        except Exception as exc:
            log.error("cluster_market_stop_failed", market_id=market_id, reason=describe_reason(exc))
        log.info("cluster_market_stopped", market_id=market_id, node=self.view.node, epoch=epoch, why=why)


def _statement_timeout(dbapi_connection: Any, _record: Any) -> None:
    """The keeper's statements give up well inside a lease's life."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    cursor.close()
    dbapi_connection.commit()
