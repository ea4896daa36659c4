"""Defaults for the `Scheme` members most venues answer the same way.

Each scheme class inherits `SchemeDefaults` and overrides only what its venue
does otherwise, so a venue module shows what is particular to it. A plain
class, so that compiled (mypyc) schemes can inherit it.
"""

from __future__ import annotations

from typing import Any

from translations import symbols
from translations.instrument_listing import Listing, ListingError
from translations.protocol import BookView, Instrument, MarketType, Remedy


class SchemeDefaults:
    name: str
    ws_url: str
    api: str = ""  # which of the venue's APIs this is ("" for its only or first one)
    market_types: tuple[MarketType, ...]
    aliases: dict[str, str] | None = None  # the venue's own currency codes for normalised ones (symbols.normalise)
    # A lost book is repaired by renewing the connection unless the venue can do better.
    remedies: frozenset[Remedy] = frozenset()

    def instrument(self, base: str, quote: str, market_type: MarketType) -> Instrument:
        """The venue's instrument for normalised names. The checks every venue
        shares are made here once; `venue_symbol` only spells the venue's name."""
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote:
            raise ValueError("base and quote are required")
        if market_type not in self.market_types:
            raise ValueError(f"{self.name} has no {market_type} markets")
        symbol = self.venue_symbol(base, quote, market_type)
        aliases = self.aliases
        return Instrument(symbols.normalise(base, aliases), symbols.normalise(quote, aliases), market_type, symbol)

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        """The venue's symbol for upper-case, non-empty names of a market type it
        lists (raises ValueError for one it cannot name from them)."""
        raise ValueError(f"{self.name} {market_type} instruments are named by expiry: use from_symbol")

    def from_symbol(self, symbol: str) -> Instrument:
        """The instrument a venue symbol names (raises ValueError); each venue reads its own."""
        raise ValueError(f"{self.name} reads no symbols")

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        """Venue symbols a recorded subscribe frame asks books of; each venue reads its own."""
        return []

    def instruments_from_subscribe(self, frame: Any) -> list[Instrument]:
        """The markets a recorded subscribe frame asks for: its symbols, read as the venue names them."""
        return self._placed(self.symbols_from_subscribe(frame))

    def instruments_from_url(self, url: str) -> list[Instrument]:
        """The markets a recorded connection URL asks for (most venues take subscriptions as
        frames only, never in the URL)."""
        return self._placed(self.symbols_from_url(url))

    def _placed(self, names: list[str]) -> list[Instrument]:
        out: list[Instrument] = []
        for name in names:
            instrument = self.from_symbol(name)
            if instrument not in out:
                out.append(instrument)
        return out

    def connection_state(self) -> Any:
        """No routing state: every market frame names its market, so a shared
        connection has nothing to remember (a venue that numbers its channels
        per connection, as Bitfinex does, keeps them here instead)."""
        return None

    def ping_msg(self, state: Any) -> list[str]:
        """No application ping: the venue's heartbeats or websocket-level pings
        keep the connection alive."""
        return []

    def synchronised(self, state: Any) -> bool:
        """Every scheme's state keeps in `broken` why its connection is beyond
        repair (None while it is not)."""
        return state.broken is None

    def checksum(self, book: BookView, symbol: str) -> int | None:
        """Only venues that send `Verify` have a checksum; no book is ever
        checked against this one."""
        raise NotImplementedError(f"{self.name} sends no checksums")

    # --- instrument lists (translations/instrument_listing.py) -------------------

    list_url: str = ""  # base URL of the venue's instrument list; "" means rest_url
    list_paths: tuple[str, ...] = ()  # the list's REST path(s), relative to list_url
    legacy_list_paths: tuple[str, ...] = ()  # lists of retired API versions: read in recorded sessions, never fetched

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        """One answer of the venue's instrument list (`path` as fetched, `body` parsed
        JSON) read into listings; ListingError for an answer not in its shape."""
        raise ListingError(f"{self.name} has no instrument list reader")

    def symbols_from_url(self, url: str) -> list[str]:
        """Venue symbols a recorded connection URL subscribes books for (most venues
        subscribe with frames only)."""
        return []
