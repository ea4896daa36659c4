"""Bitstamp websocket API v2.

Dialect: `{"event": "bts:subscribe", "data": {"channel": ...}}` per
channel; events arrive as `{"event", "channel", "data"}`.

Book: `diff_order_book_<pair>` sends changed levels (absolute sizes, zero
removes) stamped with a `microtimestamp`, and the REST snapshot
`/api/v2/order_book/<pair>` carries the microtimestamp of its moment. The
documented procedure: subscribe, buffer diffs, fetch the snapshot, drop
diffs not newer than the snapshot, apply the rest. The snapshot is fetched
as soon as the venue confirms the subscription, so that quiet markets get a
book too.

The diff channel has no sequence number; the integrity signals it gives
are the microtimestamps, which never run backwards on a channel (a diff
older than the one before it is a Desync and a new snapshot), and their
`timestamp` seconds, which must agree with them. Diffs with equal
microtimestamps are applied: sizes are absolute, so a repeated frame is
harmless and two changes in one microsecond are not lost. A snapshot older
than every diff buffered for it cannot be proven to join the stream and is
fetched again. Trade ids (`live_trades_<pair>`) never run backwards either;
they are venue-wide, so holes in them prove nothing.

Trades: `type` 0 is a taker buy, 1 a taker sell; `price_str` and
`amount_str` are the exact decimals.

Keep-alive: a `bts:heartbeat` request, answered by the venue.
`bts:request_reconnect` asks the client to reconnect.

Symbols are lower-case concatenated pairs (`btcusd`, `sgbeur`); the quote
is the longest known quote currency that ends the pair (QUOTES below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimals_step, items
from translations.numbers import to_decimal_str
from translations.protocol import (
    Instruction,
    Instrument,
    Loss,
    Malformed,
    MarketType,
    Reconnect,
    Remedy,
    RestAnswer,
    Snapshot,
    Trade,
    Update,
    refused,
)
from translations.rest_snapshot import BreakableState, SnapshotJoining
from translations.symbol_pairs import longest_first, split_quote
from translations.venue_limits import VenueLimits

# Quote currencies, longest first (USDT before USD).
QUOTES: tuple[str, ...] = longest_first(["usdt", "usdc", "pyusd", "rlusd", "usd", "eur", "gbp", "btc", "eth", "pax"])

BOOK = "diff_order_book_"
TRADES = "live_trades_"


@dataclass(slots=True)
class Market:
    instrument: Instrument
    synced: bool = False
    snapshot_mts: int = 0  # diffs up to this microtimestamp are in the snapshot
    stream_mts: int | None = None  # microtimestamp of the last diff received
    fetching: bool = False
    fetches: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False  # its snapshot cannot be had on this connection: wait for the reconnect
    trade_id: int | None = None


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    broken: str | None = None


class BitstampScheme(SnapshotJoining[Market]):
    name = "BITSTAMP"
    ws_url = "wss://ws.bitstamp.net"
    rest_url = "https://www.bitstamp.net"
    market_types: tuple[MarketType, ...] = (MarketType.SPOT,)
    ping_interval: float | None = 15.0
    stale_after = 45.0
    remedies = frozenset({Remedy.REFETCH})
    snapshot_position = "microtimestamp"

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        return (base + quote).lower()

    def from_symbol(self, pair: str) -> Instrument:
        low = pair.lower()
        split = split_quote(low, QUOTES)
        if split is not None:
            return Instrument(symbols.normalise(split[0]), symbols.normalise(split[1]), MarketType.SPOT, low)
        raise ValueError(f"no known quote currency ends the Bitstamp pair {pair!r}")

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        return [
            orjson.dumps({"event": "bts:subscribe", "data": {"channel": prefix + sym}}).decode()
            for prefix in (BOOK, TRADES)
            for sym in state.markets
        ]

    def ping_msg(self, state: State) -> list[str]:
        return ['{"event":"bts:heartbeat"}']

    @staticmethod
    def book_path(symbol: str) -> str:
        return f"/api/v2/order_book/{symbol}"

    def snapshot_path(self, symbol: str) -> str:
        return self.book_path(symbol)

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return self._rest(frame, state), state
            return [Malformed("not a JSON object", frame)], state
        event = frame.get("event")
        channel: Any = frame.get("channel")
        try:
            if event == "data":
                if channel.startswith(BOOK):
                    market = state.markets.get(channel[len(BOOK) :])
                    if market is None:
                        return [Malformed(f"diff for unsubscribed {channel}", None)], state
                    out: list[Instruction] = []
                    self._diff(market, frame["data"], out)
                    return out, state
            elif event == "trade":
                if channel.startswith(TRADES):
                    return self._trade(frame["data"], channel[len(TRADES) :], state), state
            elif event == "bts:subscription_succeeded":
                return self._subscribed(channel, state), state
            elif event == "bts:heartbeat" or event == "bts:unsubscription_succeeded":
                return [], state
            elif event == "bts:request_reconnect":
                state.broken = "venue requested a reconnect"
                return [Reconnect(state.broken)], state
            elif event == "bts:error":
                data = frame.get("data")
                message = data.get("message") if isinstance(data, dict) else data
                state.broken = f"venue error: {message}"
                return refused(state.markets, state.broken, frame), state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return self._bad(frame, state, f"{event} {channel}: {type(exc).__name__} {exc}"), state
        return [Malformed(f"unknown event {event!r} on {channel!r}", frame)], state

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """A malformed diff may have lost changes: that market starts over."""
        out: list[Instruction] = [Malformed(reason, frame)]
        channel = frame.get("channel")
        if frame.get("event") == "data" and isinstance(channel, str) and channel.startswith(BOOK):
            market = state.markets.get(channel[len(BOOK) :])
            if market is not None:
                self._restart(market, Loss.MALFORMED, f"malformed diff: {reason}", out)
        return out

    def _subscribed(self, channel: Any, state: State) -> list[Instruction]:
        if not isinstance(channel, str) or not channel.startswith(BOOK):
            return []
        market = state.markets.get(channel[len(BOOK) :])
        out: list[Instruction] = []
        if market is not None and not market.synced and not market.fetching:
            self._fetch(market, out)
        return out

    def _synced(self, market: Market) -> bool:
        return market.synced

    def _forget(self, market: Market) -> None:
        market.synced = False

    def _diff(self, market: Market, data: dict[str, Any], out: list[Instruction]) -> None:
        if market.failed:
            return
        mts = int(data["microtimestamp"])
        if int(data["timestamp"]) != mts // 1_000_000:
            raise ValueError(f"timestamp {data['timestamp']} disagrees with microtimestamp {mts}")
        # Checked before buffering: a buffered diff is replayed where no error may escape.
        if type(data["bids"]) is not list or type(data["asks"]) is not list:
            raise ValueError("bids and asks must be lists")
        previous = market.stream_mts
        market.stream_mts = mts
        if previous is not None and mts < previous:
            market.buffer.clear()
            self._restart(market, Loss.GAP, f"diff microtimestamp ran backwards {previous} -> {mts}", out)
            return
        if not market.synced:
            self._buffer(market, data, out)
            return
        if mts <= market.snapshot_mts:
            return  # the snapshot already has it
        out.append(Update(market.instrument.symbol, data["bids"], data["asks"], None, mts / 1_000_000))

    def _predates(self, snap_mts: int, first: dict[str, Any]) -> bool:
        # Every change seen is newer than the snapshot.
        return int(first["microtimestamp"]) > snap_mts

    def _joined(
        self, market: Market, state: BreakableState, snap_mts: int, bids: list[Any], asks: list[Any],
        buffered: list[dict[str, Any]], out: list[Instruction],
    ) -> None:  # fmt: skip
        sym = market.instrument.symbol
        market.synced = True
        market.snapshot_mts = snap_mts
        out.append(Snapshot(sym, bids, asks, None, snap_mts / 1_000_000))
        for data in buffered:
            mts = int(data["microtimestamp"])
            if mts > snap_mts:
                out.append(Update(sym, data["bids"], data["asks"], None, mts / 1_000_000))

    def _trade(self, data: dict[str, Any], pair: str, state: State) -> list[Instruction]:
        market = state.markets.get(pair)
        if market is None:
            return []
        trade_id = int(data["id"])
        out: list[Instruction] = []
        if market.trade_id is not None and trade_id < market.trade_id:
            out.append(Malformed(f"trade ids ran backwards {market.trade_id} -> {trade_id}", data))
        else:
            market.trade_id = trade_id
        kind = data["type"]
        if kind not in (0, 1):
            raise ValueError(f"unknown trade type {kind!r}")
        price = data.get("price_str") or to_decimal_str(data["price"])
        size = data.get("amount_str") or to_decimal_str(data["amount"])
        stamp = int(data["microtimestamp"]) / 1_000_000 if "microtimestamp" in data else float(data["timestamp"])
        out.append(Trade(market.instrument.symbol, "buy" if kind == 0 else "sell", price, size, str(trade_id), stamp))
        return out

    # --- shared connections ----------------------------------------------------------
    # Channels of many pairs share a connection: `bts:subscribe` / `bts:unsubscribe`
    # one channel each, and every message names its channel, which ends with the
    # pair (https://www.bitstamp.net/websocket/v2/).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is dict:
            channel = frame.get("channel")
            if type(channel) is str:
                for prefix in (BOOK, TRADES):
                    if channel.startswith(prefix):
                        return (channel[len(prefix) :],), conn_state
        return None, conn_state  # heartbeats, reconnect requests and errors naming no channel

    def unsubscribe_msg(self, state: State) -> list[str]:
        return [
            orjson.dumps({"event": "bts:unsubscribe", "data": {"channel": prefix + sym}}).decode()
            for prefix in (BOOK, TRADES)
            for sym in state.markets
        ]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Trading pairs: name "BTC/USD", url_symbol, base and counter decimals (the price and
    # amount steps) and whether trading is enabled
    # (https://www.bitstamp.net/api/#tag/Market-info/operation/GetTradingPairsInfo).
    list_paths: tuple[str, ...] = ("/api/v2/trading-pairs-info/",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        out: list[Listing] = []
        for item in items(body):
            name = item.get("name") if isinstance(item, dict) else None
            sym = item.get("url_symbol") if isinstance(item, dict) else None
            base, _, quote = name.partition("/") if isinstance(name, str) else ("", "", "")
            if not isinstance(sym, str) or not base or not quote:
                raise ListingError(f"not a Bitstamp trading pair: {item!r:.200}")
            ins = Instrument(symbols.normalise(base), symbols.normalise(quote), MarketType.SPOT, sym.lower())
            tick, lot = decimals_step(item.get("counter_decimals")), decimals_step(item.get("base_decimals"))
            out.append(Listing(ins, tick, lot, None, item.get("trading") == "Enabled"))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("event") != "bts:subscribe":
            return []
        data = frame.get("data")
        channel = data.get("channel", "") if isinstance(data, dict) else ""
        if isinstance(channel, str) and channel.startswith(BOOK):
            return [channel[len(BOOK) :].lower()]
        return []


# Bitstamp REST: "Do not make more than 8000 requests per 10 minutes or we will ban your IP
# address" (newer pages allow 400 a second and 10,000 per 10 minutes: the stricter is kept).
# https://www.bitstamp.net/api/
# No numbers are published for websocket connections, channels or messages: about one
# connection attempt a second, 100 channels per connection and 5 messages a second are assumed.
limits = VenueLimits(
    connects=10,
    connect_window=10.0,
    streams_per_connection=100,
    sends_per_second=5,
    rest_budget=8000,
    rest_window=600.0,
)

scheme = BitstampScheme()
