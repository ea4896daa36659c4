"""The orderbook actor: the market's book; applies batches, verifies
checksums, detects top-of-book changes and answers queries."""

from __future__ import annotations

from typing import Any

from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import BookStatus, MarketEvent
from level4.market.base import MarketActor
from level4.market.context import MarketContext
from level4.market.messages import ApplyBatch, BookQuery, Crash, Events, Mismatches
from level4.market.status import Status
from translations.protocol import ChecksumMismatch


class OrderBookActor(MarketActor):
    role = "orderbook"

    def __init__(self, ctx: MarketContext, **supervision: Any) -> None:
        super().__init__(ctx, **supervision)
        checksum = getattr(ctx.scheme, "checksum", None)
        self.keeper = BookKeeper([ctx.instrument.symbol], checksum)
        self.book = self.keeper.books[ctx.instrument.symbol]

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is ApplyBatch:
            self._apply(message)
            return None
        if kind is BookQuery:
            return self.query(message.depth)
        if kind is Crash:
            raise RuntimeError(message.detail)
        return None

    def query(self, depth: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"market": self.ctx.tag}
        body.update(self.book.as_dict(depth))
        body["reason"] = self.book.reason
        return body

    def _apply(self, message: ApplyBatch) -> None:
        events: list[MarketEvent] = []
        mismatches: list[ChecksumMismatch] = []
        self.keeper.apply(message.instructions, events, mismatches)
        if mismatches:
            self.ctx.registry.tell(self.ctx.market_id, "mediator", Mismatches(mismatches))
        if events:
            for event in events:
                if type(event) is BookStatus:
                    assert isinstance(event, BookStatus)
                    mid = self.ctx.market_id
                    if event.synchronised:
                        self.ctx.board.set(mid, Status.LIVE)
                    elif self.ctx.board.status(mid) is Status.LIVE:
                        self.ctx.board.set(mid, Status.SYNCHRONISING, event.reason)
            self.ctx.registry.tell(self.ctx.market_id, "exchange", Events(events, message.received_at))
