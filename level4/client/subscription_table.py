"""What the client wants from /stream, per market: the mirrors and the feeds
that read it, and so the channels to keep subscribed.

A market with a mirror is subscribed to every market channel: the sequence
counts events over all of them, so only then is a missing number a lost
event (README, "Events"). Otherwise a market gets the union of the channels
its feeds asked for.
"""

from __future__ import annotations

from typing import Any

from level4.client.book_mirror import BookMirror
from level4.client.event_feeds import Feed
from level4.client.market_patterns import resolve

MARKET_CHANNELS = frozenset({"top", "trade", "book", "status"})


class SubscriptionTable:
    def __init__(self) -> None:
        self.mirrors: dict[int, BookMirror] = {}
        self.feeds: list[Feed] = []
        self._index: dict[int, list[Feed]] | None = None  # market id -> feeds reading it

    def add_feed(self, feed: Feed) -> None:
        self.feeds.append(feed)
        self._index = None

    def remove_feed(self, feed: Feed) -> None:
        if feed in self.feeds:
            self.feeds.remove(feed)
            self._index = None

    def resolve(self, markets: list[dict[str, Any]]) -> None:
        """Choose each feed's markets again from the service's list (after a reconnect)."""
        for feed in self.feeds:
            feed.markets = resolve(feed.selectors, markets, strict=False)
        self._index = None

    def desired(self) -> dict[int, frozenset[str]]:
        wanted: dict[int, frozenset[str]] = {market_id: MARKET_CHANNELS for market_id in self.mirrors}
        for feed in self.feeds:
            for market_id in feed.markets:
                wanted[market_id] = wanted.get(market_id, frozenset()) | feed.channels
        return {m: (MARKET_CHANNELS if "book" in c else c) for m, c in wanted.items()}

    def feeds_for(self, market_id: int) -> list[Feed]:
        if self._index is None:
            index: dict[int, list[Feed]] = {}
            for feed in self.feeds:
                for m in feed.markets:
                    index.setdefault(m, []).append(feed)
            self._index = index
        return self._index.get(market_id, [])

    def refused(self, market_id: int, error: BaseException) -> None:
        """The service will not serve this market: its readers hear why, and it is wanted no more."""
        mirror = self.mirrors.pop(market_id, None)
        if mirror is not None:
            mirror.mark_failed(error)
        for feed in self.feeds_for(market_id):
            feed.markets.pop(market_id, None)
            if not feed.markets:
                feed.finish(error)
        self._index = None
