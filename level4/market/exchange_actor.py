"""The exchange actor: the market's voice downstream.

Turns the orderbook's events into the public ones (`top`, `trade`, `book`,
`status`), stamps venue and receipt time, and publishes them through the
market's publisher, which numbers them without gaps. Whenever the book stops
being good (start, desync, a restarted orderbook, stop) a `book` snapshot
with `synchronised: false` and no levels follows, so a consumer applying
book events never holds a stale book believing it good.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from level4.feed.events import BookDelta, BookStatus, TopChange
from level4.market.context import MarketContext
from level4.market.levels import has_counts, render
from level4.market.market_actor import MarketActor
from level4.market.messages import BookGone, BookState, Crash, Events, StatusNotice
from level4.market.publisher import MarketPublisher, book_payload, no_book
from translations.protocol import Level, Trade


def _level(lv: Any) -> list[str] | None:
    return None if lv is None else [lv[0], lv[1]]


class ExchangeActor(MarketActor):
    hostable = True  # never blocks nor waits: may run where a frame was read
    role = "exchange"

    def __init__(self, ctx: MarketContext, **supervision: Any) -> None:
        super().__init__(ctx, **supervision)
        assert ctx.publisher is not None
        self.publisher: MarketPublisher = ctx.publisher
        self.counts = has_counts(ctx.scheme)
        self.book_good = False  # what consumers were last told

    def on_start(self) -> None:
        now = time.time()
        self._status("started", None, now)
        self._book_gone("no snapshot yet", now)

    def on_stop(self) -> None:
        now = time.time()
        self._status("stopped", None, now)
        if self.book_good:
            self._book_gone("feed stopped", now)

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Events:
            self._events(message)
        elif kind is BookState:
            self._deliver(message)
        elif kind is StatusNotice:
            self._status(message.status, message.reason, message.at)
        elif kind is BookGone:
            if self.book_good:
                now = time.time()
                self._status("desynchronised", message.reason, now)
                self._book_gone(message.reason, now)
        elif kind is Crash:
            raise RuntimeError(message.detail)
        return None

    def _status(self, status: str, reason: str | None, at: float) -> None:
        self.publisher.publish("status", {"status": status, "reason": reason}, None, at)

    def _book_gone(self, reason: str, at: float) -> None:
        self.book_good = False
        self.publisher.publish("book", no_book(reason), None, at)

    def _levels(self, levels: list[Level]) -> list[list[Any]]:
        return render(levels, self.counts)

    def _deliver(self, state: BookState) -> None:
        bids, asks = self._levels(state.bids), self._levels(state.asks)
        payload = book_payload(True, state.synchronised, bids, asks, state.reason)
        state.deliver(self.publisher.as_of("book", payload, state.timestamp, time.time()))

    def _events(self, message: Events) -> None:
        received = message.received_at or time.time()
        publish = self.publisher.publish
        counts = self.counts
        for ev in message.items:
            kind = type(ev)
            if kind is BookDelta:
                assert isinstance(ev, BookDelta)
                if ev.snapshot:
                    self.book_good = True
                payload = book_payload(ev.snapshot, True, render(ev.bids, counts), render(ev.asks, counts), None)
                publish("book", payload, ev.timestamp, received)
            elif kind is TopChange:
                assert isinstance(ev, TopChange)
                publish("top", top_payload(ev), ev.timestamp, received)
            elif kind is Trade:
                assert isinstance(ev, Trade)
                trade = {"side": ev.side, "price": ev.price, "size": ev.size, "trade_id": ev.trade_id}
                publish("trade", trade, ev.timestamp, received)
            elif kind is BookStatus:
                assert isinstance(ev, BookStatus)
                if ev.synchronised:
                    self._status("synchronised", None, received)
                else:
                    self._status("desynchronised", ev.reason, received)
                    self._book_gone(ev.reason or "desynchronised", received)
        if message.received_at:
            self.publisher.latency.observe(time.time() - message.received_at)


def _plain(value: Decimal) -> str:
    return format(value, "f")  # never exponent notation ("1E-8")


def top_payload(ev: TopChange) -> dict[str, Any]:
    """Best bid/ask with spread and mid, computed exactly on decimal strings."""
    payload: dict[str, Any] = {"bid": _level(ev.bid), "ask": _level(ev.ask), "spread": None, "mid": None}
    if ev.bid is not None and ev.ask is not None:
        bid, ask = Decimal(ev.bid[0]), Decimal(ev.ask[0])
        payload["spread"] = _plain(ask - bid)
        payload["mid"] = _plain((ask + bid) / 2)
    return payload
