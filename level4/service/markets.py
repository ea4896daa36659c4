"""Starting and stopping market trees under the dynamic market supervisor,
and reading what they hold."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pykka
import structlog

from level4.market.context import MarketContext
from level4.market.hub import EventHub
from level4.market.messages import BookQuery
from level4.market.publisher import MarketPublisher
from level4.market.registry import Registry
from level4.market.status_board import Status, StatusBoard
from level4.market.tree import child_name, market_spec
from level4.net.connection_pool import shares_connections
from level4.supervision.supervised import describe_reason
from level4.supervision.supervisor import ChildEvent
from translations import scheme_for_instrument, scheme_for_market
from translations.protocol import Instrument, MarketType, Scheme

if TYPE_CHECKING:
    from level4.journal.writer import Journal

log = structlog.get_logger(__name__)

# Markets stopped in one request to their supervisor: each batch's stops run side by
# side and finish well within the request's timeout, and the board shows progress.
STOP_BATCH = 500


def scheme_and_instrument(market: dict[str, Any]) -> tuple[Scheme, Instrument]:
    """The venue API that lists the market, and the market's instrument there."""
    market_type = MarketType(market["market_type"])
    base, quote = market["base_symbol"], market["quote_symbol"]
    if market.get("instrument"):
        # Dated futures and options: the expiry (and strike) cannot be derived from the
        # pair, so the catalogue names the venue's instrument itself.
        scheme = scheme_for_instrument(market["exchange"], market_type, quote, market["instrument"])
        return scheme, Instrument(base, quote, market_type, market["instrument"])
    return scheme_for_market(market["exchange"], base, quote, market_type)


def instrument_for(market: dict[str, Any]) -> Instrument:
    return scheme_and_instrument(market)[1]


def endpoint_for(scheme: Scheme, instrument: Instrument) -> str:
    """The venue's default websocket URL for this market: some venues (Bybit v5)
    serve each market category on its own path."""
    endpoint = getattr(scheme, "endpoint", None)
    return str(endpoint([instrument])) if callable(endpoint) else scheme.ws_url


class MarketControl:
    def __init__(
        self,
        supervisor: Callable[[], pykka.ActorProxy[Any]],
        registry: Registry,
        board: StatusBoard,
        hub: EventHub,
        max_restarts: int,
        max_seconds: float,
        timeout: float = 15.0,
    ) -> None:
        self._supervisor = supervisor
        self.registry = registry
        self.board = board
        self.hub = hub
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.timeout = timeout
        # per market for the life of the process: sequences continue across restarts
        self.publishers: dict[int, MarketPublisher] = {}
        self.journal: Journal | None = None  # set when the service records what markets receive
        self.shared_connections = True  # markets of a routing scheme share their venue's connections
        self.subscriptions_per_connection: int | None = None

    def start(self, market: dict[str, Any]) -> None:
        """Start the market's tree (a no-op when it is running)."""
        market_id = int(market["id"])
        name = child_name(market_id)
        if self._supervisor().child(name).get(timeout=self.timeout) is not None:
            return
        # A failed tree is gone already; a leftover entry for it must not block a new start.
        self._supervisor().terminate_child(name).get(timeout=self.timeout)
        scheme, instrument = scheme_and_instrument(market)
        publisher = self.publisher(market_id, str(market["tag"]))
        ctx = MarketContext(
            market=market,
            scheme=scheme,
            instrument=instrument,
            registry=self.registry,
            board=self.board,
            hub=self.hub,
            ws_url=market.get("ws_url") or endpoint_for(scheme, instrument),
            rest_url=market.get("rest_url") or scheme.rest_url,
            publisher=publisher,
            shared=self.shared_connections and shares_connections(scheme),
            shared_cap=self.subscriptions_per_connection,
        )
        if self.journal is not None:
            ctx.journal = self.journal.recorder(ctx)
        self.registry.tag(ctx.tag, market_id)
        self.board.set(market_id, Status.CONNECTING)

        def on_event(child: str, event: ChildEvent, reason: BaseException | None) -> None:
            self._child_event(market_id, ctx.tag, child, event, reason)

        spec = market_spec(ctx, self.max_restarts, self.max_seconds, on_event)
        try:
            self._supervisor().start_child(spec).get(timeout=self.timeout)
        except Exception as exc:
            why = f"could not start: {describe_reason(exc)}"
            self.board.set(market_id, Status.FAILED, why)
            self._failed(market_id, why)
            log.error("market_start_failed", market=ctx.tag, reason=describe_reason(exc))
            raise
        log.info("market_started", market=ctx.tag)

    def publisher(self, market_id: int, tag: str) -> MarketPublisher:
        """The market's publisher, made on first use and kept for the life of the process."""
        publisher = self.publishers.get(market_id)
        if publisher is None:
            publisher = self.publishers[market_id] = MarketPublisher(market_id, tag, self.hub)
        return publisher

    def stop(self, market_id: int) -> None:
        name = child_name(market_id)
        self._supervisor().terminate_child(name).get(timeout=self.timeout)
        self.board.set(market_id, Status.STOPPED)
        log.info("market_stopped", market_id=market_id)

    def running(self) -> list[int]:
        names = [n for n, _ in self._supervisor().which_children().get(timeout=self.timeout)]
        return [int(n.split("-", 1)[1]) for n in names if n.startswith("market-")]

    def stop_all(self) -> None:
        self.stop_many(self.running())

    def stop_many(self, market_ids: list[int]) -> None:
        """Stop these markets side by side (one request to the market supervisor a
        batch, the trees stopping together), not one round trip after another."""
        supervisor = self._supervisor()
        for start in range(0, len(market_ids), STOP_BATCH):
            batch = market_ids[start : start + STOP_BATCH]
            supervisor.terminate_children([child_name(i) for i in batch]).get(timeout=self.timeout * 2)
            for market_id in batch:
                self.board.set(market_id, Status.STOPPED)
            log.info("markets_stopped", markets=len(batch))

    def running_book(self, market_id: int, depth: int | None) -> dict[str, Any] | None:
        """The book as the market's orderbook holds it; None when it has none."""
        ref = self.registry.lookup(market_id, "orderbook")
        if ref is None:
            return None
        try:
            return cast(dict[str, Any], ref.ask(BookQuery(depth), timeout=self.timeout))
        except (pykka.ActorDeadError, pykka.Timeout):
            return None  # restarting

    def book(self, market: dict[str, Any], depth: int | None) -> dict[str, Any]:
        book = self.running_book(int(market["id"]), depth)
        if book is not None:
            return book
        state = self.board.get(int(market["id"]))
        reason = state.reason or f"feed is {state.status}"
        return {"market": market["tag"], "synchronised": False, "bids": [], "asks": [], "reason": reason}

    def _child_event(
        self, market_id: int, tag: str, child: str, event: ChildEvent, reason: BaseException | None
    ) -> None:
        # Giving up is seen one level up, as the market tree's exit (on_dynamic_event).
        if event is ChildEvent.RESTARTED:
            self.board.count(market_id, restarts=1)

    def on_dynamic_event(self, child: str, event: ChildEvent, reason: BaseException | None) -> None:
        """Events of the dynamic market supervisor itself: a market tree exited."""
        if event is ChildEvent.EXITED and child.startswith("market-") and reason is not None:
            market_id = int(child.split("-", 1)[1])
            why = describe_reason(reason)
            self.board.set(market_id, Status.FAILED, why)
            self._failed(market_id, why)
            log.error("market_failed", market_id=market_id, reason=why)

    def _failed(self, market_id: int, reason: str | None) -> None:
        publisher = self.publishers.get(market_id)
        if publisher is not None:
            publisher.failed(reason or "gave up", time.time())
