"""`level4 console`: IPython with the service tree running in-process.

At hand: `Markets` (start, stop, status, book) and `Query` (Symbol, Exchange,
Market: new and all). Starting or stopping a market also stores the desired
state, exactly as `PATCH /markets/{id}` does.
"""

from __future__ import annotations

import socket
from typing import Any

from level4.config import Settings
from level4.service.control import ServiceControl
from level4.service.root import Service


class MarketsConsole:
    """Switch feeds and look at books. `id` is a market id or "all"."""

    def __init__(self, control: ServiceControl) -> None:
        self._control = control

    def _ids(self, which: int | str) -> list[int]:
        if which == "all":
            return [int(m["id"]) for m in self._control.list_markets(None)]
        if isinstance(which, int) and not isinstance(which, bool):
            return [which]
        raise ValueError('give a market id or "all"')

    def start(self, which: int | str) -> list[dict[str, Any]]:
        """Start the feed of market `which` (an id, or "all"); returns the markets."""
        return [self._control.set_feed(i, True) for i in self._ids(which)]

    def stop(self, which: int | str) -> list[dict[str, Any]]:
        """Stop the feed of market `which` (an id, or "all"); returns the markets."""
        return [self._control.set_feed(i, False) for i in self._ids(which)]

    def status(self, which: int | str = "all") -> list[dict[str, Any]]:
        """Markets with their desired (level4_feed_enabled) and actual (status) state."""
        return [self._control.get_market(i) for i in self._ids(which)]

    def book(self, market_id: int, depth: int | None = 10) -> dict[str, Any]:
        """The market's current book, best first."""
        return self._control.book(market_id, depth)

    def __repr__(self) -> str:
        return "Markets: .start(id | 'all'), .stop(id | 'all'), .status(), .book(id, depth=10)"


class _Table:
    def __init__(self, control: ServiceControl) -> None:
        self._control = control


class SymbolQuery(_Table):
    """Query.Symbol.new("BTC"), Query.Symbol.all()"""

    def new(self, symbol: str) -> dict[str, Any]:
        """Add a symbol, e.g. "BTC"."""
        return self._control.add_symbol(symbol)

    def all(self) -> list[dict[str, Any]]:
        """Every symbol."""
        return self._control.list_symbols()


class ExchangeQuery(_Table):
    """Query.Exchange.new("COINBASE", ws_url=None, rest_url=None), Query.Exchange.all()"""

    def new(self, name: str, ws_url: str | None = None, rest_url: str | None = None) -> dict[str, Any]:
        """Add a venue level4 has a scheme for, optionally with endpoint overrides."""
        return self._control.add_exchange(name, ws_url, rest_url)

    def all(self) -> list[dict[str, Any]]:
        """Every exchange."""
        return self._control.list_exchanges()


class MarketQuery(_Table):
    """Query.Market.new("COINBASE", "BTC", "USD", "SPOT"), Query.Market.all()"""

    def new(
        self, exchange: str | int, base: str | int, quote: str | int, market_type: str = "SPOT", instrument: str = ""
    ) -> dict[str, Any]:
        """Add a market; names or ids for the exchange and symbols."""
        return self._control.add_market(exchange, base, quote, market_type, instrument)

    def all(self, enabled: bool | None = None) -> list[dict[str, Any]]:
        """Every market, or those whose feed flag is `enabled`."""
        return self._control.list_markets(enabled)


class Query:
    """The catalogue: Query.Symbol, Query.Exchange, Query.Market (each .new and .all)."""

    def __init__(self, control: ServiceControl) -> None:
        self.Symbol = SymbolQuery(control)
        self.Exchange = ExchangeQuery(control)
        self.Market = MarketQuery(control)

    def __repr__(self) -> str:
        return "Query: .Symbol, .Exchange, .Market (each with .new(...) and .all())"


def namespace(service: Service) -> dict[str, Any]:
    return {"Markets": MarketsConsole(service.control), "Query": Query(service.control), "service": service}


def run(settings: Settings, listener: socket.socket | None = None) -> int:
    """The service started (serving HTTP on `listener`, else bound here), then the prompt until exit."""
    import IPython
    from traitlets.config import Config

    settings.check_exposure()
    service = Service(settings)
    try:
        service.start(listener)
    except BaseException:
        service.stop()
        raise
    try:
        config = Config()
        config.TerminalInteractiveShell.banner1 = (
            f"level4 console: the service is running in this process, API and dashboard at {service.http_url()}\n"
            "  Markets.start(id | 'all'), Markets.stop(id | 'all'), Markets.status(), Markets.book(id)\n"
            "  Query.Symbol.new/all, Query.Exchange.new/all, Query.Market.new/all\n"
        )
        IPython.start_ipython(argv=["--simple-prompt"], user_ns=namespace(service), config=config)
    finally:
        service.stop()
    return 0
