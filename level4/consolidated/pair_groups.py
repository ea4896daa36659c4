"""Which markets make up one consolidated instrument.

An instrument is a market type, a base and a quote; quotes are kept apart
unless a request names some as equivalent (USD, USDT, USDC). Dated futures
and options name one expiry each and are never merged.
"""

from __future__ import annotations

from dataclasses import dataclass

MERGEABLE = ("SPOT", "PERP")


@dataclass(frozen=True, slots=True)
class Pair:
    market_type: str
    base: str
    quote: str


@dataclass(frozen=True, slots=True)
class Group:
    market_type: str
    base: str
    quote: str  # as asked for: names the group
    quotes: frozenset[str]  # the quote and its equivalents

    @property
    def name(self) -> str:
        pair = f"{self.base}-{self.quote}"
        return pair if self.market_type == "SPOT" else f"{self.market_type}:{pair}"

    def contains(self, pair: Pair) -> bool:
        return pair.market_type == self.market_type and pair.base == self.base and pair.quote in self.quotes

    def describe(self) -> dict[str, object]:
        return {"pair": self.name, "market_type": self.market_type, "quotes": sorted(self.quotes)}


def parse_group(text: str, equivalent: list[str] | tuple[str, ...] = ()) -> Group:
    """`BASE-QUOTE` (spot) or `TYPE:BASE-QUOTE`; raises ValueError saying why."""
    market_type, _, pair = text.upper().rpartition(":")
    market_type = market_type or "SPOT"
    if market_type not in MERGEABLE:
        raise ValueError(f"market type {market_type} cannot be consolidated; one of {', '.join(MERGEABLE)}")
    base, _, quote = pair.partition("-")
    if not base or not quote or "-" in quote:
        raise ValueError(f"{text!r} is not BASE-QUOTE")
    quotes = {quote, *(q.strip().upper() for q in equivalent if q.strip())}
    return Group(market_type, base, quote, frozenset(quotes))


def pair_of_market(market: dict[str, object]) -> Pair:
    """A catalogue market's pair."""
    return Pair(str(market["market_type"]), str(market["base_symbol"]), str(market["quote_symbol"]))


def pair_of_tag(tag: str) -> Pair | None:
    """From a market tag `VENUE.TYPE:BASE-QUOTE`; None for dated instruments."""
    head, _, pair = tag.partition(":")
    market_type = head.rpartition(".")[2]
    base, _, quote = pair.partition("-")
    if market_type not in MERGEABLE or not base or not quote:
        return None
    return Pair(market_type, base, quote)
