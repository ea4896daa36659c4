"""What the /stream endpoint and the query routes need of the running
service: the market tape and the consolidated tops (both fed by the event
hub), catalogue lookups, book snapshots in line with a market's events, and
the consolidated book."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

from level4.consolidated.merge import consolidate
from level4.consolidated.pair_groups import Group, pair_of_market, parse_group
from level4.consolidated.tops import ConsolidatedTops
from level4.market.hub import EventHub
from level4.market.messages import BookState, Deliver, SnapshotRequest
from level4.market.publisher import MarketPublisher, no_book
from level4.market.registry import Registry
from level4.market.status_board import StatusBoard
from level4.stream.client import StreamClient
from level4.stream.stream_requests import StreamError, is_tag
from level4.stream.tape import MarketTape

DEFAULT_QUEUE = 10_000


class Catalogue(Protocol):
    def get_market(self, market_id: int) -> dict[str, Any]: ...
    def list_markets(self, enabled: bool | None) -> list[dict[str, Any]]: ...


class Books(Protocol):
    registry: Registry
    board: StatusBoard
    publishers: dict[int, MarketPublisher]

    def book(self, market: dict[str, Any], depth: int | None) -> dict[str, Any]: ...


class RemoteMarkets(Protocol):
    """The markets other nodes of a cluster run, as the event bus mirrors them."""

    def serves(self, market_id: int) -> bool: ...
    def deliver_snapshot(self, market_id: int, tag: str, deliver: Deliver) -> None: ...
    def book(self, market_id: int, tag: str, depth: int | None) -> dict[str, Any]: ...


class Downstream:
    def __init__(self, hub: EventHub, catalogue: Catalogue, books: Books, queue_limit: int = DEFAULT_QUEUE) -> None:
        self.hub = hub
        self.catalogue = catalogue
        self.books = books
        self.queue_limit = queue_limit
        self.tape = MarketTape()
        self.tops = ConsolidatedTops()
        hub.subscribe(self.tape.consume)
        hub.subscribe(self.tops.consume)
        self.clients: set[StreamClient] = set()  # connected /stream clients
        self.remote: RemoteMarkets | None = None  # in a cluster: the markets other nodes run

    # --- queries (blocking: run them off the event loop) ------------------------------

    def top(self, market_id: int) -> dict[str, Any]:
        market = self.catalogue.get_market(market_id)
        return self.tape.top(market_id, str(market["tag"]))

    def trades(self, market_id: int, limit: int) -> dict[str, Any]:
        market = self.catalogue.get_market(market_id)
        return {"market": market["tag"], "trades": self.tape.trades(market_id, limit)}

    def candles(self, market_id: int, interval: str, limit: int | None) -> dict[str, Any]:
        market = self.catalogue.get_market(market_id)
        candles = self.tape.candles(market_id, interval, limit)
        return {"market": market["tag"], "interval": interval, "candles": candles}

    def consolidated(self, group: Group, depth: int | None) -> dict[str, Any]:
        """The merged ladder of every synchronised market of the group; the
        others are listed with the reason they are left out."""
        members = [m for m in self.catalogue.list_markets(None) if group.contains(pair_of_market(m))]
        books: list[tuple[str, dict[str, Any]]] = []
        included: list[dict[str, Any]] = []
        excluded: list[dict[str, Any]] = []
        remote = self.remote
        for market in sorted(members, key=lambda m: str(m["tag"])):
            market_id = int(market["id"])
            elsewhere = remote is not None and remote.serves(market_id)
            if remote is not None and elsewhere:
                book = remote.book(market_id, str(market["tag"]), depth)
            else:
                book = self.books.book(market, depth)
            entry = {"id": market["id"], "market": market["tag"]}
            if book["synchronised"]:
                books.append((str(market["tag"]), book))
                included.append(entry)
            else:
                status = "remote" if elsewhere else str(self.books.board.get(market_id).status)
                excluded.append({**entry, "status": status, "reason": book["reason"]})
        body: dict[str, Any] = {**group.describe(), "depth": depth, "markets": included, "excluded": excluded}
        body.update(consolidate(books, depth))
        return body

    # --- the stream -----------------------------------------------------------------

    def resolve(self, entries: Iterable[int | str], equivalent: tuple[str, ...]) -> tuple[dict[int, str], list[Group]]:
        """Market ids and tags to {id: tag}, pairs to consolidated groups;
        an unknown market refuses the whole request."""
        markets: dict[int, str] = {}
        groups: list[Group] = []
        catalogue: dict[str, dict[str, Any]] | None = None
        for entry in entries:
            if isinstance(entry, str) and not entry.isdigit() and not is_tag(entry):
                try:
                    groups.append(parse_group(entry, equivalent))
                except ValueError as exc:
                    raise StreamError("invalid", f"markets: {exc}") from None
                continue
            if catalogue is None:
                catalogue = {}
                for market in self.catalogue.list_markets(None):
                    catalogue[str(market["id"])] = market
                    catalogue[str(market["tag"]).upper()] = market
            found = catalogue.get(str(entry).upper())
            if found is None:
                raise StreamError("unknown_market", f"markets: no market {entry!r}")
            markets[int(found["id"])] = str(found["tag"])
        return markets, groups

    def request_book(self, market_id: int, tag: str, deliver: Deliver) -> None:
        """Have `deliver` called with the market's book as of its last event,
        in line with the events that follow."""
        if self.remote is not None and self.remote.serves(market_id):
            self.remote.deliver_snapshot(market_id, tag, deliver)
            return
        registry = self.books.registry
        if registry.tell(market_id, "orderbook", SnapshotRequest(deliver)):
            return
        state = self.books.board.get(market_id)
        reason = state.reason or f"feed is {state.status}"
        # No book: the exchange still numbers the answer behind the events it has in hand.
        if registry.tell(market_id, "exchange", BookState([], [], False, reason, None, deliver)):
            return
        payload = no_book(reason)
        publisher = self.books.publishers.get(market_id)
        if publisher is not None:
            deliver(publisher.as_of("book", payload, None, time.time()))
        else:
            base = {"channel": "book", "market_id": market_id, "market": tag, "sequence": 0}
            deliver({**base, "venue_time": None, "received_at": time.time(), **payload})
