"""A venue's own instrument list, read into one shape for every venue.

Each scheme fetches its venue's list (`list_paths`, relative to `list_url`)
and reads every answer with `instruments_from_list(path, body)`; what comes
back is a `Listing` per instrument. Where a list is at hand, it, not a guess
from the symbol's spelling, says what a symbol is (see `ListingIndex`).

An answer not in the venue's documented shape is refused (ListingError) as a
whole; one instrument in it that level4 cannot name (a kind it has no market
type for, a spelling it cannot read) is left out, and the rest are listed.

Tick and lot sizes stay exact decimal strings: venues that send them as JSON
numbers get the shortest text that reads back as the same float, and venues
that send a count of decimals get `10^-n` spelt out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from translations.protocol import Instrument
from translations.timeparse import iso_seconds


@dataclass(frozen=True, slots=True)
class Listing:
    """One instrument as its venue lists it."""

    instrument: Instrument  # normalised base and quote, market type, the venue's own symbol
    tick_size: str | None = None  # smallest price step, exact decimal text; None: the list gives none
    lot_size: str | None = None  # smallest size step, in the venue's size unit (contracts for most derivatives)
    expiry: float | None = None  # Unix seconds; None for spot and perpetuals
    trading: bool = True  # the venue accepts orders now (not halted, not pre-listed)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def as_dict(self) -> dict[str, Any]:
        ins = self.instrument
        return {
            "symbol": ins.symbol,
            "base": ins.base,
            "quote": ins.quote,
            "type": str(ins.market_type),
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
            "expiry": self.expiry,
            "trading": self.trading,
        }


class ListingError(ValueError):
    """A list answer that is not in the shape the venue documents."""


def decimal_text(value: Any) -> str | None:
    """Exact decimal text of a tick or lot size sent as a string or a JSON number
    (1e-08 -> "0.00000001"); None for a missing or empty one. A float is read by
    its shortest repr, which is the text the venue serialised."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        try:
            # A float's shortest repr is the text the venue serialised, less its trailing zeros.
            number = Decimal(repr(value)).normalize() if isinstance(value, float) else Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ListingError(f"not a decimal: {value!r}") from exc
        if not number.is_finite() or number < 0:
            raise ListingError(f"not a size: {value!r}")
        return format(number, "f")
    raise ListingError(f"not a decimal: {value!r}")


def decimals_step(places: Any) -> str | None:
    """The step a count of decimal places allows: 2 -> "0.01", 0 -> "1", -1 -> "10"."""
    if places is None or isinstance(places, bool):
        return None
    if not isinstance(places, int):
        raise ListingError(f"not a count of decimals: {places!r}")
    return format(Decimal(1).scaleb(-places), "f")


def millis(value: Any) -> float | None:
    """Unix seconds of a millisecond timestamp (a number or its text); None for none."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value) / 1000
    except (TypeError, ValueError) as exc:
        raise ListingError(f"not a millisecond timestamp: {value!r}") from exc


def iso_expiry(value: Any) -> float | None:
    """Unix seconds of an ISO 8601 UTC time ("2021-09-24T12:00:00.000Z"); None for none."""
    if not value:
        return None
    if not isinstance(value, str):
        raise ListingError(f"not an ISO time: {value!r}")
    try:
        return iso_seconds(value)
    except ValueError as exc:
        raise ListingError(f"not an ISO time: {value!r}") from exc


def items(body: Any, *keys: str) -> list[Any]:
    """The list under `keys` of a JSON answer (none: the answer itself), or ListingError."""
    node = body
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise ListingError(f"the answer has no {'.'.join(keys)}")
        node = node[key]
    if not isinstance(node, list):
        raise ListingError(f"{'.'.join(keys) or 'the answer'} is not a list")
    return node


def answers_list(list_paths: Iterable[str], path: str) -> bool:
    """Whether a REST path (as recorded or fetched, query and all) is one of a venue's
    list paths: the same path, or one recorded under another API version or prefix
    (HitBTC's api/2 beside api/3), or a detail page under a list path (Gemini's
    /v1/symbols/details/btcusd); the query is not compared."""
    path = urlsplit(path).path.rstrip("/")
    for list_path in list_paths:
        wanted = urlsplit(list_path).path.rstrip("/")
        if path == wanted or path.endswith(wanted) or path.startswith(wanted + "/"):
            return True
    return False


class ListingIndex:
    """A venue's listings by symbol: how replay places a subscribed symbol.

    Symbols are compared as the scheme spells its instruments' symbols (each
    list reader spells them so). Where one symbol is listed twice (the same list
    recorded again, or one name in two categories) the first listing stands,
    unless only the later one gives a tick size (a names-only list, then a
    symbol's own details)."""

    __slots__ = ("_by_symbol",)

    def __init__(self, listings: Iterable[Listing] = ()) -> None:
        self._by_symbol: dict[str, Listing] = {}
        self.extend(listings)

    def extend(self, listings: Iterable[Listing]) -> None:
        for listing in listings:
            known = self._by_symbol.get(listing.symbol)
            if known is None or (known.tick_size is None and listing.tick_size is not None):
                self._by_symbol[listing.symbol] = listing

    def get(self, symbol: str) -> Listing | None:
        return self._by_symbol.get(symbol)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def listings(self) -> list[Listing]:
        return list(self._by_symbol.values())


class TickCheck:
    """Checks the prices of a connection's levels against the tick sizes its venue
    lists. A price off its tick is noted (per market, each distinct price once) and
    left as the venue sent it: the book is never rounded to the list. Markets the list
    gives no tick for are not checked."""

    __slots__ = ("_seen", "_ticks", "off")

    def __init__(self, ticks: dict[str, str]) -> None:
        self._ticks = {symbol: Decimal(tick) for symbol, tick in ticks.items() if Decimal(tick) > 0}
        self._seen: dict[str, set[str]] = {symbol: set() for symbol in self._ticks}
        self.off: dict[str, list[str]] = {}  # symbol -> prices off its tick, in the order first met

    def __bool__(self) -> bool:
        return bool(self._ticks)

    def tick(self, symbol: str) -> str | None:
        tick = self._ticks.get(symbol)
        return None if tick is None else str(tick)

    def check(self, symbol: str, levels: Iterable[Any]) -> None:
        tick = self._ticks.get(symbol)
        if tick is None:
            return
        seen = self._seen[symbol]
        for level in levels:
            price = level[0]
            if price in seen:
                continue
            seen.add(price)
            try:
                off = Decimal(price) % tick != 0
            except (InvalidOperation, TypeError):
                continue  # no number: the book refuses it and says so
            if off:
                self.off.setdefault(symbol, []).append(price)
