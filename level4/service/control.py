"""The control surface: what the HTTP API and the console do to the service.

Catalogue writes go through the repo actor; feed switches change the stored
desired state first and then start or stop the market's tree, so that the
database always says what should run after a restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pykka

from level4.catalogue.catalogue_errors import CatalogueError, Duplicate, Invalid, NotFound, Unavailable
from level4.catalogue.models import MARKET_TYPES
from level4.cluster.cluster_view import ClusterView
from level4.market.status_board import Status, StatusBoard
from level4.service.instrument_catalogue import InstrumentCatalogue
from level4.service.markets import MarketControl


class ServiceControl:
    def __init__(
        self,
        repo: Callable[[], pykka.ActorProxy[Any]],
        markets: MarketControl,
        board: StatusBoard,
        timeout: float = 15.0,
        sinks: Callable[[], list[dict[str, Any]]] = list,
        instrument_lists: InstrumentCatalogue | None = None,
    ) -> None:
        self._repo = repo
        self.instrument_lists = instrument_lists or InstrumentCatalogue()
        self._sinks = sinks
        self.markets = markets
        self.board = board
        self.timeout = timeout
        self.cluster: ClusterView | None = None  # set in cluster mode: the keeper starts and stops markets
        self.remote_max_age = 15.0  # seconds an owner's word on a market's status is taken for (cluster mode)

    def _db(self, method: str, *args: Any) -> Any:
        try:
            return self._repo().call(method, *args).get(timeout=self.timeout)
        except CatalogueError:
            raise
        except (pykka.ActorDeadError, pykka.Timeout) as exc:
            raise Unavailable(f"the catalogue is not answering ({type(exc).__name__}); try again shortly") from None

    def _with_status(self, market: dict[str, Any]) -> dict[str, Any]:
        state = self.board.get(int(market["id"]))
        out = dict(market)
        out["status"] = str(state.status)
        out["status_reason"] = state.reason
        out["connection"] = state.connection  # a shared venue connection's name, or None
        owner = self.cluster.owner(int(market["id"])) if self.cluster is not None else None
        out["node"], out["epoch"] = owner if owner is not None else (None, 0)
        if owner is not None and self.cluster is not None and owner[0] != self.cluster.node:
            remote = self.cluster.remote_status(int(market["id"]), self.remote_max_age)
            if remote is None:  # not heard from its owner lately (or under this epoch): unknown here
                out["status"] = str(Status.STOPPED)
                out["status_reason"] = f"runs on node {owner[0]}; its status has not been heard from it"
            else:
                out["status"], out["status_reason"] = remote["status"], remote["status_reason"]
                out["connection"] = remote["connection"]
        return out

    # --- symbols and exchanges -------------------------------------------------------

    def add_symbol(self, symbol: str) -> dict[str, Any]:
        return dict(self._db("add_symbol", symbol))

    def list_symbols(self) -> list[dict[str, Any]]:
        return list(self._db("list_symbols"))

    def add_exchange(self, name: str, ws_url: str | None, rest_url: str | None) -> dict[str, Any]:
        return dict(self._db("add_exchange", name, ws_url, rest_url))

    def list_exchanges(self) -> list[dict[str, Any]]:
        return list(self._db("list_exchanges"))

    def instruments(self, exchange: str, market_type: str = "", quote: str = "") -> dict[str, Any]:
        """The exchange's instruments as its venue lists them (fetched through the exchange's
        REST override where it has one), optionally of one market type and quote."""
        name = exchange.strip().upper()
        kind = market_type.strip().upper()
        if kind and kind not in MARKET_TYPES:
            raise Invalid("type", f"must be one of {', '.join(MARKET_TYPES)}")
        row = next((e for e in self._db("list_exchanges") if e["name"] == name), None)
        if row is None:
            raise NotFound(f"no exchange {name}: add it first (POST /exchanges)")
        fetched = self.instrument_lists.lists(name, row.get("rest_url"))
        wanted_quote = quote.strip().upper()
        instruments = [
            {**listing.as_dict(), "api": api}
            for api, listing in fetched.listings
            if (not kind or str(listing.instrument.market_type) == kind)
            and (not wanted_quote or listing.instrument.quote == wanted_quote)
        ]
        return {
            "exchange": name,
            "instruments": instruments,
            "unavailable": fetched.unavailable,
            "age_seconds": round(max(0.0, self.instrument_lists.age(fetched)), 3),
            "refresh_error": fetched.refresh_error,
        }

    # --- markets -----------------------------------------------------------------------

    def add_listed_markets(self, exchange: str, market_type: str, quote: str, enable: bool) -> dict[str, Any]:
        """Every trading instrument the venue lists of this market type (and quote, when
        given) as a market of the catalogue, its symbols added where missing; markets
        already there are left as they are (enabled too when `enable`). One instrument
        the catalogue refuses is reported and the others go on."""
        listed = self.instruments(exchange, market_type, quote)
        name = listed["exchange"]
        symbols = {s["symbol"] for s in self._db("list_symbols")}
        known = {
            (m["base_symbol"], m["quote_symbol"], m["market_type"], m["instrument"]): m
            for m in self._db("list_markets", None)
        }
        created: list[int] = []
        existing: list[int] = []
        failed: list[dict[str, str]] = []
        enabled = 0
        for item in listed["instruments"]:
            if not item["trading"]:
                continue
            kind = item["type"]
            # Dated futures and options name the venue's instrument; the others are named by their pair.
            instrument = item["symbol"] if kind in ("FUTURE", "OPTION") else ""
            key = (item["base"], item["quote"], kind, instrument)
            try:
                for code in (item["base"], item["quote"]):
                    if code not in symbols:
                        with contextlib.suppress(Duplicate):  # added meanwhile
                            self._db("add_symbol", code)
                        symbols.add(code)
                market = known.get(key)
                if market is None:
                    try:
                        market = self._db("add_market", name, item["base"], item["quote"], kind, instrument)
                        created.append(int(market["id"]))
                    except Duplicate:  # another listing of the same market (e.g. an inverse and a linear perp)
                        continue
                    known[key] = market
                else:
                    existing.append(int(market["id"]))
                if enable and not market["level4_feed_enabled"]:
                    self.set_feed(int(market["id"]), True)
                    enabled += 1
            except (Invalid, NotFound) as exc:
                failed.append({"symbol": item["symbol"], "reason": exc.detail})
        return {
            "exchange": name,
            "created": created,
            "existing": existing,
            "enabled": enabled,
            "failed": failed,
            "unavailable": listed["unavailable"],
        }

    def add_market(
        self, exchange: str | int, base: str | int, quote: str | int, market_type: str = "SPOT", instrument: str = ""
    ) -> dict[str, Any]:
        return self._with_status(self._db("add_market", exchange, base, quote, market_type, instrument))

    def list_markets(self, enabled: bool | None = None) -> list[dict[str, Any]]:
        return [self._with_status(m) for m in self._db("list_markets", enabled)]

    def get_market(self, market_id: int) -> dict[str, Any]:
        return self._with_status(self._db("get_market", market_id))

    def set_feed(self, market_id: int, enabled: bool) -> dict[str, Any]:
        market = self._db("set_feed_enabled", market_id, enabled)
        if self.cluster is not None:
            return self._with_status(market)  # the desired state is stored; the owner's keeper acts on it
        if enabled:
            self.markets.start(market)
        else:
            self.markets.stop(market_id)
        return self._with_status(market)

    def delete_market(self, market_id: int) -> None:
        self._db("get_market", market_id)  # 404 before anything stops
        if self.cluster is None or self.cluster.runs_here(market_id):
            self.markets.stop(market_id)
        self._db("delete_market", market_id)

    def book(self, market_id: int, depth: int | None) -> dict[str, Any]:
        try:
            market = self._db("get_market", market_id)
        except Unavailable:
            # Books live in memory: a catalogue outage must not hide a running market's book.
            book = self.markets.running_book(market_id, depth)
            if book is None:
                raise
            return book
        return self.markets.book(market, depth)

    def start_enabled(self) -> int:
        """Start every market whose stored feed flag is on; returns how many."""
        started = 0
        for market in self._db("list_markets", True):
            self.markets.start(market)
            started += 1
        return started

    def health(self) -> dict[str, Any]:
        try:
            enabled = self._db("list_markets", True)
            database = "ok"
        except CatalogueError as exc:
            return {"database": "unavailable", "detail": exc.detail, "markets_not_live": None, "sinks": self._sinks()}
        not_live = []
        for market in enabled:
            owner = self.cluster.owner(int(market["id"])) if self.cluster is not None else None
            if owner is not None and self.cluster is not None and owner[0] != self.cluster.node:
                continue  # another node runs it; its own /health speaks for it
            state = self.board.get(int(market["id"]))
            if state.status is not Status.LIVE:
                not_live.append(
                    {"id": market["id"], "tag": market["tag"], "status": str(state.status), "reason": state.reason}
                )
        return {
            "database": database,
            "markets_enabled": len(enabled),
            "markets_not_live": not_live,
            "sinks": self._sinks(),
        }
