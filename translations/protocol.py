"""The contract between a venue's dialect and the rest of level4.

A scheme is pure: frames and state in, instructions and state out. It owns no
socket, thread or clock, so the same code serves live feeds, replays of
recorded captures and benchmarks, and is tested by feeding it frames.

One connection may carry several markets (venues multiplex, and recorded
captures do), so a scheme's state covers a list of instruments and every
instruction names the venue symbol it is about. The live service opens one
connection per market for a scheme without routing; a scheme with the
`Routing` members below lets several markets share one connection, each
translated on its own single-market state, so one market's fault still
touches no other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the listing record is built on Instrument, defined here
    from translations.instrument_listing import Listing


class MarketType(StrEnum):
    SPOT = "SPOT"
    PERP = "PERP"
    FUTURE = "FUTURE"
    OPTION = "OPTION"


# A price level as the venue sent it: (price, size) or (price, size, order count),
# a tuple or the venue's own list (passing it through saves a copy per level).
# Only [0] and [1] are guaranteed: a venue's own list may carry other things
# after them (Kraken a timestamp), so an order count is only read from tuples
# a scheme built for the purpose, and only of a scheme whose class says
# `level_counts = True` (every level it makes then carries one).
# Prices and sizes stay decimal strings end to end; a size that is zero deletes.
Level = tuple[str, str] | tuple[str, str, int] | list[Any]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One market on one venue: normalised names plus the venue's own symbol."""

    base: str
    quote: str
    market_type: MarketType
    symbol: str  # the venue's name for it, e.g. "XBT/USD", "BTCUSDT", "BTC-PERPETUAL"

    @property
    def pair(self) -> str:
        return f"{self.base}-{self.quote}"

    def tag(self, venue: str) -> str:
        """`VENUE.TYPE:BASE-QUOTE`; dated futures and options keep the venue's
        instrument name, since many of them share one pair."""
        if self.market_type in (MarketType.FUTURE, MarketType.OPTION):
            return f"{venue}.{self.market_type}:{self.symbol}"
        return f"{venue}.{self.market_type}:{self.base}-{self.quote}"


# --- instructions -----------------------------------------------------------

# The instructions made for every frame spell out their __init__ (init=False):
# compiled, an explicit __init__ is native code, while the one dataclass
# generates stays interpreted and costs five times as much per instruction.


@dataclass(slots=True, init=False)
class _Levels:
    """What a Snapshot and an Update carry."""

    symbol: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    sequence: int | None
    timestamp: float | None  # venue time, Unix seconds

    def __init__(
        self,
        symbol: str,
        bids: Sequence[Level],
        asks: Sequence[Level],
        sequence: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        self.symbol = symbol
        self.bids = bids
        self.asks = asks
        self.sequence = sequence
        self.timestamp = timestamp


@dataclass(slots=True, init=False)
class Snapshot(_Levels):
    """Replace the whole book; the book is synchronised afterwards."""


@dataclass(slots=True, init=False)
class Update(_Levels):
    """Set these levels; a zero size removes the level."""


@dataclass(slots=True, init=False)
class Trade:
    symbol: str
    side: str  # taker side: "buy" or "sell"; "" for auction fills, which have no taker
    price: str
    size: str
    trade_id: str | None
    timestamp: float | None

    def __init__(
        self, symbol: str, side: str, price: str, size: str, trade_id: str | None, timestamp: float | None
    ) -> None:
        self.symbol = symbol
        self.side = side
        self.price = price
        self.size = size
        self.trade_id = trade_id
        self.timestamp = timestamp


@dataclass(slots=True, init=False)
class Verify:
    """Check the book (after every instruction before this one) against the
    venue's checksum, computed by the scheme's `checksum` function. A mismatch
    is delivered back to `translate` as a `ChecksumMismatch` frame."""

    symbol: str
    expected: int

    def __init__(self, symbol: str, expected: int) -> None:
        self.symbol = symbol
        self.expected = expected


@dataclass(slots=True, init=False)
class Truncate:
    """Keep only the best `depth` levels per side (venues that stop reporting
    levels which fall out of the subscribed depth, e.g. Kraken)."""

    symbol: str
    depth: int

    def __init__(self, symbol: str, depth: int) -> None:
        self.symbol = symbol
        self.depth = depth


@dataclass(slots=True)
class Desync:
    """The book can no longer be trusted: clear it and mark it not
    synchronised until the next Snapshot."""

    symbol: str
    reason: str


@dataclass(slots=True)
class Fetch:
    """Fetch a REST snapshot; the answer comes back to `translate` as a
    `RestAnswer`. `url` is relative to the venue's REST base URL."""

    symbol: str
    path: str


@dataclass(slots=True)
class Send:
    """Frames to send on the connection now (pong replies, resubscribes)."""

    frames: Sequence[str | bytes]


@dataclass(slots=True)
class Reconnect:
    """Close the connection and start again with a fresh state. `backoff`:
    wait as after a failure to connect, even if the market had been
    synchronised (the venue refuses something: trying at once would hammer it)."""

    reason: str
    backoff: bool = False


class Loss(StrEnum):
    """How a book came to be no longer good (see level4.feed.resync_policy)."""

    GAP = "gap"  # a sequence number skipped, or an update before its snapshot
    CHECKSUM = "checksum"  # the book disagrees with the venue's checksum
    VENUE_ERROR = "venue_error"  # the venue refused or dropped the market's subscription
    MALFORMED = "malformed"  # a book frame that could not be read, so a change may be lost
    STALE = "stale"  # no frame for longer than the scheme's stale_after
    SNAPSHOT_FAILED = "snapshot_failed"  # the REST snapshot cannot be had on this connection
    DISCONNECT = "disconnect"  # the connection ended
    BOOK_FAULT = "book_fault"  # the book refused a level that is no number
    SCHEME_ERROR = "scheme_error"  # the scheme raised: its state cannot be trusted


class Remedy(StrEnum):
    """What can be done about a loss. A scheme's `remedies` says which of the
    first two its venue supports; renewing the connection always works."""

    RESUBSCRIBE = "resubscribe"  # send the scheme's resubscribe_msg for that one market
    REFETCH = "refetch"  # fetch a REST snapshot again (the scheme's refetch)
    RENEW = "renew"  # close the connection and start again at once
    BACK_OFF = "back_off"  # renew the connection, but only after the reconnect backoff


@dataclass(slots=True)
class Lost:
    """A market's book is no longer good. The scheme has already reset its own
    bookkeeping for the market (e.g. "awaiting snapshot"); what happens to
    the book and the connection is decided by level4's resync policy."""

    symbol: str
    kind: Loss
    reason: str


@dataclass(slots=True)
class Malformed:
    """A frame the scheme could not understand. Counted and logged by the
    caller; the scheme decides separately whether it also needs a Desync."""

    reason: str
    frame: Any = None


Instruction = Snapshot | Update | Trade | Verify | Truncate | Desync | Fetch | Send | Reconnect | Malformed | Lost


def refused(symbols: Iterable[str], reason: str, frame: Any) -> list[Instruction]:
    """The venue answered with an error that leaves these markets without a
    book (a subscription refused or dropped): the frame counted as malformed,
    and a VENUE_ERROR loss for each market."""
    out: list[Instruction] = [Malformed(reason, frame)]
    out.extend(Lost(symbol, Loss.VENUE_ERROR, reason) for symbol in symbols)
    return out


# --- frames level4 itself delivers to translate -----------------------------


@dataclass(frozen=True, slots=True)
class RestAnswer:
    """The answer to a Fetch. `body` is parsed JSON, or None with `error`."""

    symbol: str
    path: str
    body: Any
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ChecksumMismatch:
    symbol: str
    expected: int
    actual: int


@dataclass(frozen=True, slots=True)
class BookFault:
    """The book refused a scheme's levels: a price or size that is no number.
    Nothing of them was applied and the book was cleared; the connection is
    renewed for fresh snapshots (the translator does that, not the scheme)."""

    symbol: str
    reason: str


class BookView(Protocol):
    """What a checksum function may read of a book: best-first levels, and
    the text most venues' checksums are computed over, made without a Python
    object per level (see level4.book.orderbook.OrderBook.checksum_text)."""

    def bids_levels(self, depth: int | None = None) -> list[Level]: ...
    def asks_levels(self, depth: int | None = None) -> list[Level]: ...
    def checksum_text(
        self, depth: int, asks_first: bool = False, interleave: bool = False, sep: str = "", digits: bool = False
    ) -> bytes: ...


class Scheme(Protocol):
    """One venue's dialect. Implemented by a module-level object per venue.

    Lost books are reported as `Lost` instructions, never repaired by the
    scheme itself: level4's resync policy (level4.feed.resync_policy) picks
    the remedy from the scheme's `remedies`, the remedies its venue supports
    besides renewing the connection. With `Remedy.RESUBSCRIBE` in it the
    scheme has `resubscribe_msg(state, symbol) -> list[str]`: frames that
    drop and renew one market's book subscription, so a fresh snapshot comes
    on the same connection, or none when the market cannot be resubscribed
    now (the connection is renewed then). With `Remedy.REFETCH` it has
    `refetch(state, symbol) -> list[Fetch]`: the REST snapshot to ask for
    (none when one is already out).

    Optionally `opened(state) -> list[Instruction]`: what to do as soon as the
    markets' subscription has gone out, before any frame has come (a venue
    whose snapshot comes over REST asks for it then: Binance).

    Optionally also `keepalive(raw) -> bool`: True for a received frame, still
    unparsed, that `translate` would turn into nothing. The live feed then
    counts and records it without waking the market's actors; a test on the
    raw text (see `KeepAlive`) keeps that cheaper than parsing it."""

    name: str  # catalogue name, upper case: "COINBASE"
    api: str  # which of the venue's APIs ("" for its first); the market type and quote select it
    ws_url: str  # default public websocket endpoint
    rest_url: str  # default REST base URL ("" when the venue needs none)
    market_types: tuple[MarketType, ...]
    ping_interval: float | None  # seconds between ping_msg calls; None: no pings
    stale_after: float  # seconds without any frame before the feed counts as stalled
    remedies: frozenset[Remedy]  # what the venue supports besides renewing the connection

    def instrument(self, base: str, quote: str, market_type: MarketType) -> Instrument:
        """The venue's instrument for normalised names (raises ValueError)."""

    def instruments_from_subscribe(self, frame: Any) -> list[Instrument]:
        """Markets a recorded subscribe frame asks for (used by replay)."""

    def instruments_from_url(self, url: str) -> list[Instrument]:
        """Markets a recorded connection URL asks for (venues that subscribe
        in the URL, e.g. Binance combined streams; used by replay)."""

    def initial_state(self, instruments: Sequence[Instrument]) -> Any:
        """Sync state for a new connection carrying these markets."""

    def subscribe_msg(self, state: Any) -> list[str]:
        """Frames to send right after connecting."""

    def ping_msg(self, state: Any) -> list[str]:
        """Keep-alive frames, sent every `ping_interval` seconds."""

    def translate(self, frame: Any, state: Any) -> tuple[list[Instruction], Any]:
        """One received frame (parsed JSON, a str that was not JSON, or a
        RestAnswer / ChecksumMismatch from level4) to instructions."""

    def synchronised(self, state: Any) -> bool:
        """False means the connection is beyond repair: reconnect."""

    def checksum(self, book: BookView, symbol: str) -> int | None:
        """The venue's checksum of a book (only venues that send Verify);
        None when the book is in no state to be compared (not counted)."""

    # --- instrument lists (translations/instrument_listing.py) ----------------------

    list_url: str  # base URL of the venue's instrument list ("" means rest_url)
    list_paths: tuple[str, ...]  # the list's REST path(s), relative to list_url
    legacy_list_paths: tuple[str, ...]  # lists of retired API versions, read in recorded sessions only

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        """One answer of the venue's instrument list read into listings (ListingError
        for an answer not in the venue's shape)."""

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        """Venue symbols a recorded subscribe frame asks books for, unread: replay
        places each through the venue's list, so one it cannot place fails alone."""

    def symbols_from_url(self, url: str) -> list[str]:
        """Venue symbols a recorded connection URL asks books for."""


@dataclass(slots=True)
class MarketSync:
    """Per-market sequence bookkeeping most schemes need; kept in their state."""

    instrument: Instrument
    last_sequence: int | None = None
    snapshot_seen: bool = False
    buffered: list[Any] = field(default_factory=list)


# --- shared connections -----------------------------------------------------

# `route`'s answer for a frame every market of the connection must see (a
# subscription list, a venue notice that concerns them all).
ALL_MARKETS: tuple[str, ...] = ("*",)
# Every market subscribed on the connection now, however recently (a venue's reference
# data that each market's state needs, e.g. Kraken v2's instrument list), where
# ALL_MARKETS is only those whose subscribe preceded the request the frame answers.
EVERY_MARKET: tuple[str, ...] = ("**",)


@dataclass(frozen=True, slots=True)
class Renew:
    """`route`'s answer for a frame that shows the connection itself can no
    longer be trusted (a gap in a connection-wide sequence, a venue restart):
    the connection is renewed and every market on it resyncs, no other one."""

    reason: str


# What `route` says a frame belongs to: venue symbols, ALL_MARKETS, EVERY_MARKET,
# Renew, or None for the connection alone (heartbeats, pongs, acknowledgements).
# An empty sequence: no market, and nothing to report (late frames of a channel left).
Targets = Sequence[str] | Renew | None


class Routing(Protocol):
    """The members that let markets of one venue share a connection.

    A scheme that has them is routed: level4 parses each received frame once,
    asks `route` which markets it belongs to, and hands it to those markets,
    whose own single-market states `translate` it as before. Routing state of
    the connection (channel ids, request ids) lives in `conn_state`, which
    only `route` changes. Subscribing uses `subscribe_msg` over the state of
    the markets subscribed together; `unsubscribe_msg` is its opposite."""

    def connection_state(self) -> Any:
        """Routing state for a new connection, before anything is subscribed."""

    def route(self, frame: Any, conn_state: Any) -> tuple[Targets, Any]:
        """A received frame (parsed as for `translate`) to the venue symbols
        it concerns, ALL_MARKETS, Renew, or None (the connection's own business)."""

    def unsubscribe_msg(self, state: Any) -> list[str]:
        """Frames that end the subscriptions of the markets of `state`."""

    # Optional: `unsubscribe_on(conn_state, symbols) -> (frames, conn_state)`, for a
    # venue whose unsubscribe names what the connection was assigned (Bitfinex's
    # channel ids); the connection then uses it instead of `unsubscribe_msg`.
    # Likewise `subscribe_on(conn_state, state) -> (frames, conn_state)`, for a venue
    # whose connection takes settings once before its first subscribe (Bitfinex's
    # `conf`); the connection then uses it instead of `subscribe_msg`.


class KeepAlive:
    """A scheme's `keepalive`: frames that begin with a fixed text.

    The venue's own serialisation is fixed, so a prefix is exact for the
    frames it was written for; a keep-alive spelt otherwise just takes the
    ordinary path through `translate`."""

    __slots__ = ("_bytes", "_text")

    def __init__(self, prefix: str) -> None:
        self._text = prefix
        self._bytes = prefix.encode()

    def __call__(self, raw: str | bytes) -> bool:
        if isinstance(raw, str):
            return raw.startswith(self._text)
        return raw.startswith(self._bytes)
