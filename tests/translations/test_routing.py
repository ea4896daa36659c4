"""The schemes' routing members (connection_state, route, unsubscribe_msg):
recorded sessions of several markets on one connection, routed frame by
frame to one single-market translator each, give every market exactly the
instructions and the book that translating the whole session on one
multi-market state gives; acknowledgements and keep-alives go to the
connection; unsubscribe frames are what the venues document, and the
simulator's dialects honour them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from level4.replay.capture import Opened, Received, Sent, read
from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession
from tests.captures import capture
from tests.simulator.simulator_harness import make_markets
from tests.simulator.test_end_to_end_venues import VENUES
from tests.translations.harness import SchemeHarness
from translations import scheme_for
from translations.protocol import ALL_MARKETS, Instruction, Instrument, Malformed, MarketType, Snapshot, Update

ROUTED = [
    "BINANCE",
    "BITFINEX",
    "BITFLYER",
    "BITMEX",
    "BITSTAMP",
    "BYBIT",
    "COINBASE",
    "DERIBIT",
    "GEMINI",
    "HITBTC",
    "KRAKEN",
    "OKX",
    "POLONIEX",
]
# Bitfinex unsubscribes by the channel ids the connection was assigned: its own tests
# (tests/translations/test_bitfinex_routing.py) take markets on and off a connection.
UNSUBSCRIBED_BY_SYMBOL = [v for v in ROUTED if v != "BITFINEX"]
SESSIONS = {
    "BINANCE": "BINANCE.ws.1.0",
    "BITFINEX": "BITFINEX.ws.11.0",
    "BITFLYER": "BITFLYER.ws.1.0",
    "BITMEX": "BITMEX.ws.1.0",
    "BITSTAMP": "BITSTAMP.ws.1.0",
    "BYBIT": "BYBIT.ws.25.0",
    "COINBASE": "COINBASE.ws.28.0",
    "DERIBIT": "DERIBIT.ws.1.0",
    "GEMINI": "GEMINI.ws.1.0",
    "HITBTC": "HITBTC.ws.1.0",
    "KRAKEN": "KRAKEN.ws.50.0",
    "OKX": "OKX.ws.1.0",
    "POLONIEX": "POLONIEX.ws.1.0",
}


# The recorded Kraken spot session speaks v1; Kraken spot's live v2 routing runs end to end
# (tests/simulator/test_end_to_end_kraken_spot.py).
API = {"KRAKEN": "v1"}


def scheme_of(venue: str) -> Any:
    return scheme_for(venue, API.get(venue, ""))


def test_the_routed_schemes_are_those_with_every_routing_member() -> None:
    import translations
    from level4.net.connection_pool import shares_connections

    assert [v for v in translations.names() if shares_connections(scheme_of(v))] == ROUTED


def instruments_of(venue: str, records: list[Any]) -> list[Instrument]:
    scheme = scheme_of(venue)
    out: list[Instrument] = []
    for rec in records:
        if isinstance(rec, Opened):
            found = scheme.instruments_from_url(rec.url)
        elif isinstance(rec, Sent):
            found = scheme.instruments_from_subscribe(orjson.loads(rec.frame))
        else:
            continue
        out.extend(i for i in found if i not in out)
    return out


def about(ins: Instruction) -> str | None:
    return None if type(ins) is Malformed else getattr(ins, "symbol", None)


def without_connection_sequence(venue: str, ins: Instruction) -> Instruction:
    """Bitfinex's SEQ_ALL number counts the frames of the whole connection: its
    route checks it, and a market's own state, seeing only its frames, carries none."""
    if venue == "BITFINEX" and isinstance(ins, (Snapshot, Update)):
        return type(ins)(ins.symbol, ins.bids, ins.asks, None, ins.timestamp)
    return ins


@pytest.mark.parametrize("venue", ROUTED)
def test_routing_a_recorded_session_gives_each_market_what_one_state_gives_it(venue: str) -> None:
    scheme = scheme_of(venue)
    records = list(read(capture(SESSIONS[venue])))
    instruments = instruments_of(venue, records)
    assert len(instruments) >= 2, "a session of several markets on one connection"
    whole = SchemeHarness(scheme, instruments, instruments[0].symbol)
    alone = {i.symbol: SchemeHarness(scheme, [i], i.symbol) for i in instruments}
    mine: dict[str, list[Instruction]] = {i.symbol: [] for i in instruments}
    conn = scheme.connection_state()
    routed = own = 0
    for rec in records:
        if not isinstance(rec, Received):
            continue
        out = whole.feed(rec.frame)
        try:
            frame: Any = orjson.loads(rec.frame)
        except orjson.JSONDecodeError:
            frame = rec.frame
        targets, conn = scheme.route(frame, conn)
        touched = {s for s in map(about, out) if s is not None}
        if targets is None:
            own += 1
            assert not touched, f"a frame for {touched} kept by the connection: {rec.frame[:200]}"
            continue
        chosen = list(alone) if targets is ALL_MARKETS else [s for s in targets if s in alone]
        assert touched <= set(chosen), f"{touched} but routed to {chosen}: {rec.frame[:200]}"
        for symbol in chosen:
            routed += 1
            alone[symbol].feed(rec.frame)
        for ins in out:
            symbol = about(ins)
            if symbol is not None:
                mine[symbol].append(without_connection_sequence(venue, ins))
    assert routed > 100, (routed, own)
    for symbol, harness in alone.items():
        got = [ins for ins in harness.out if about(ins) is not None]
        assert got == mine[symbol], symbol
        assert harness.book() == whole.book(symbol), symbol
    assert any(whole.book(s)["synchronised"] for s in alone) or venue in ("BINANCE", "BITSTAMP")  # REST snapshots


ACKS: dict[str, list[tuple[Any, Any]]] = {
    "BINANCE": [
        ({"result": None, "id": 1}, None),
        ({"result": ["btcusdt@depth@100ms", "btcusdt@trade"], "id": 3}, ALL_MARKETS),
        ({"error": {"code": 2, "msg": "Invalid request"}, "id": 4}, None),
        ({"stream": "ethbtc@trade", "data": {"e": "trade", "s": "ETHBTC"}}, ("ETHBTC",)),
    ],
    "COINBASE": [
        ({"type": "subscriptions", "channels": [{"name": "level2_batch", "product_ids": ["BTC-USD"]}]}, None),
        ({"type": "heartbeat", "product_id": "ETH-USD", "sequence": 9}, ("ETH-USD",)),
        ({"type": "error", "message": "Failed to subscribe", "reason": "ZZZ-USD is not a valid product"}, None),
    ],
    "KRAKEN": [
        ({"event": "heartbeat"}, None),
        ({"event": "pong"}, None),
        ({"event": "subscriptionStatus", "pair": "XBT/USD", "status": "unsubscribed"}, ("XBT/USD",)),
        ({"event": "error", "errorMessage": "Malformed request"}, None),
        ([42, [["5541.3", "0.1", "1534614057.3", "s", "l", ""]], "trade", "XBT/USD"], ("XBT/USD",)),
    ],
    "OKX": [
        ("pong", None),
        ({"event": "subscribe", "arg": {"channel": "books", "instId": "BTC-USDT"}, "connId": "a1"}, ("BTC-USDT",)),
        ({"event": "error", "code": "60012", "msg": "Invalid request", "connId": "a1"}, None),
    ],
    "BITMEX": [
        ({"info": "Welcome to the BitMEX Realtime API.", "version": "2.0"}, None),
        ({"success": True, "subscribe": "orderBookL2:XBTUSD", "request": {}}, None),
        ("pong", None),
        ({"table": "orderBookL2", "action": "partial", "filter": {"symbol": "ETHUSD"}, "data": []}, ["ETHUSD"]),
        (
            {"table": "trade", "action": "insert", "data": [{"symbol": "XBTUSD"}, {"symbol": "ETHUSD"}]},
            ["XBTUSD", "ETHUSD"],
        ),
    ],
    "BITSTAMP": [
        ({"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}}, None),
        ({"event": "bts:subscription_succeeded", "channel": "diff_order_book_ethusd", "data": {}}, ("ethusd",)),
        ({"event": "trade", "channel": "live_trades_btcusd", "data": {}}, ("btcusd",)),
        ({"event": "bts:request_reconnect", "channel": "", "data": ""}, None),
    ],
    "GEMINI": [
        ({"type": "heartbeat", "timestamp": 1}, None),
        ({"type": "trade", "symbol": "ETHUSD", "price": "1", "quantity": "1"}, ("ETHUSD",)),
        ({"result": "error", "reason": "InvalidSymbol", "message": "unknown symbol"}, None),
    ],
    "DERIBIT": [
        ({"jsonrpc": "2.0", "id": 2, "result": ["book.BTC-PERPETUAL.100ms"]}, None),
        ({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}, None),
        (
            {
                "jsonrpc": "2.0",
                "method": "subscription",
                "params": {"channel": "trades.ETH-PERPETUAL.100ms", "data": []},
            },
            ("ETH-PERPETUAL",),
        ),
    ],
    "POLONIEX": [
        ({"event": "pong"}, None),
        ({"event": "subscribe", "channel": "book_lv2", "symbols": ["BTC_USDT"]}, None),
        ({"channel": "trades", "data": [{"symbol": "ETH_USDT", "id": "1"}]}, ["ETH_USDT"]),
    ],
    "BITFLYER": [
        ({"jsonrpc": "2.0", "id": 1, "result": True}, None),
        (
            {
                "jsonrpc": "2.0",
                "method": "channelMessage",
                "params": {"channel": "lightning_board_snapshot_FX_BTC_JPY"},
            },
            ("FX_BTC_JPY",),
        ),
        (
            {"jsonrpc": "2.0", "method": "channelMessage", "params": {"channel": "lightning_board_ETH_JPY"}},
            ("ETH_JPY",),
        ),
    ],
    "BITFINEX": [
        ({"event": "info", "version": 2, "platform": {"status": 1}}, None),
        ({"event": "conf", "status": "OK", "flags": 65536}, None),
        ({"event": "pong", "ts": 1, "cid": 7}, None),
        ({"event": "subscribed", "channel": "book", "chanId": 17, "symbol": "tETHUSD", "prec": "P0"}, ("tETHUSD",)),
        ([17, "hb", 1], ("tETHUSD",)),
        ([17, [1900.5, 2, 0.5], 2], ("tETHUSD",)),
        ([99, "hb", 3], None),  # a channel the connection never subscribed: the connection reports it
        (
            {"event": "error", "msg": "subscribe: dup", "code": 10301, "channel": "book", "symbol": "tETHUSD"},
            ("tETHUSD",),
        ),
        ({"event": "error", "msg": "Unknown event", "code": 10000}, None),
    ],
    "HITBTC": [
        ({"result": {"ch": "orderbook/full", "subscriptions": ["ETHBTC"]}, "id": 1}, None),
        ({"ch": "orderbook/full", "update": {"ETHBTC": {"t": 1, "s": 2, "a": [], "b": []}}}, ["ETHBTC"]),
        ({"ch": "trades", "update": {"ETHBTC": [], "BTCUSDT": []}}, ["ETHBTC", "BTCUSDT"]),
        ({"ch": "ticker/1s", "data": {"BTCUSDT": {}}}, ["BTCUSDT"]),
        ({"error": {"code": 2001, "message": "Symbol not found"}, "id": 1}, ALL_MARKETS),
    ],
    "BYBIT": [
        ({"success": True, "ret_msg": "", "conn_id": "x", "op": "subscribe"}, None),
        ({"op": "pong", "success": True}, None),
        ({"topic": "publicTrade.ETHUSDT", "type": "snapshot", "data": []}, ("ETHUSDT",)),
    ],
}


@pytest.mark.parametrize("venue", ROUTED)
def test_acknowledgements_and_keepalives_stay_with_the_connection(venue: str) -> None:
    scheme = scheme_of(venue)
    conn = scheme.connection_state()
    for frame, expected in ACKS[venue]:
        targets, conn = scheme.route(frame, conn)
        assert (targets is ALL_MARKETS) if expected is ALL_MARKETS else (targets == expected), frame


UNSUBSCRIBES: dict[str, tuple[str, str, MarketType, list[Any]]] = {
    "BITFLYER": (
        "ETH",
        "JPY",
        MarketType.SPOT,
        [
            {"jsonrpc": "2.0", "method": "unsubscribe", "params": {"channel": f"lightning_{kind}_ETH_JPY"}, "id": n}
            for n, kind in enumerate(("board_snapshot", "board", "executions"), 1)
        ],
    ),
    "BITMEX": (
        "ETH",
        "USD",
        MarketType.PERP,
        [{"op": "unsubscribe", "args": ["orderBookL2:ETHUSD", "trade:ETHUSD"]}],
    ),
    "BITSTAMP": (
        "ETH",
        "USD",
        MarketType.SPOT,
        [
            {"event": "bts:unsubscribe", "data": {"channel": "diff_order_book_ethusd"}},
            {"event": "bts:unsubscribe", "data": {"channel": "live_trades_ethusd"}},
        ],
    ),
    "DERIBIT": (
        "ETH",
        "USD",
        MarketType.PERP,
        [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "public/unsubscribe",
                "params": {"channels": ["book.ETH-PERPETUAL.100ms", "trades.ETH-PERPETUAL.100ms"]},
            }
        ],
    ),
    "GEMINI": (
        "ETH",
        "USD",
        MarketType.SPOT,
        [{"type": "unsubscribe", "subscriptions": [{"name": "l2", "symbols": ["ETHUSD"]}]}],
    ),
    "POLONIEX": (
        "ETH",
        "USDT",
        MarketType.SPOT,
        [
            {"event": "unsubscribe", "channel": ["book_lv2"], "symbols": ["ETH_USDT"]},
            {"event": "unsubscribe", "channel": ["trades"], "symbols": ["ETH_USDT"]},
        ],
    ),
    "BINANCE": (
        "ETH",
        "BTC",
        MarketType.SPOT,
        [{"method": "UNSUBSCRIBE", "params": ["ethbtc@depth@100ms", "ethbtc@trade"], "id": 1}],
    ),
    "COINBASE": (
        "ETH",
        "USD",
        MarketType.SPOT,
        [{"type": "unsubscribe", "product_ids": ["ETH-USD"], "channels": ["level2_batch", "matches", "heartbeat"]}],
    ),
    "KRAKEN": (
        "ETH",
        "USD",
        MarketType.SPOT,
        [
            {"event": "unsubscribe", "pair": ["ETH/USD"], "subscription": {"name": "book", "depth": 1000}},
            {"event": "unsubscribe", "pair": ["ETH/USD"], "subscription": {"name": "trade"}},
        ],
    ),
    "OKX": (
        "ETH",
        "USDT",
        MarketType.SPOT,
        [
            {
                "op": "unsubscribe",
                "args": [{"channel": "books", "instId": "ETH-USDT"}, {"channel": "trades", "instId": "ETH-USDT"}],
            }
        ],
    ),
    "HITBTC": (
        "ETH",
        "BTC",
        MarketType.SPOT,
        [
            {"method": "unsubscribe", "ch": "orderbook/full", "params": {"symbols": ["ETHBTC"]}, "id": 3},
            {"method": "unsubscribe", "ch": "trades", "params": {"symbols": ["ETHBTC"]}, "id": 4},
        ],
    ),
    "BYBIT": (
        "ETH",
        "USDT",
        MarketType.PERP,
        [{"op": "unsubscribe", "args": ["orderbook.50.ETHUSDT", "publicTrade.ETHUSDT"]}],
    ),
}


@pytest.mark.parametrize("venue", UNSUBSCRIBED_BY_SYMBOL)
def test_unsubscribe_frames_are_the_venues_own(venue: str) -> None:
    scheme = scheme_of(venue)
    base, quote, kind, expected = UNSUBSCRIBES[venue]
    state = scheme.initial_state([scheme.instrument(base, quote, kind)])
    assert [orjson.loads(f) for f in scheme.unsubscribe_msg(state)] == expected


@pytest.mark.parametrize("venue", UNSUBSCRIBED_BY_SYMBOL)
def test_the_simulator_takes_markets_onto_and_off_one_connection(venue: str) -> None:
    """Several subscribe requests on one connection add up; an unsubscribe
    removes its market and leaves the others, as at the venue."""
    scheme = scheme_of(venue)
    base, quote, kind, _depth = VENUES[venue]
    sim = make_markets(venue, [f"{b}-{quote}" for b in (base, "ETH", "SOL")], market_type=MarketType(kind))
    dialect = dialect_for(venue, API.get(venue, ""))
    session = ClientSession()
    instruments = [m.instrument for m in sim.markets.values()]

    def send(frames: list[str]) -> list[str]:
        out: list[str] = []
        for raw in frames:
            try:
                frame: Any = orjson.loads(raw)
            except orjson.JSONDecodeError:
                frame = raw
            out += dialect.on_client_frame(session, frame, sim.markets, sim.now)
        return out

    for instrument in instruments:  # one request each, as markets joining apart are subscribed
        send(scheme.subscribe_msg(scheme.initial_state([instrument])))
    assert session.subscribed == {i.symbol for i in instruments}
    answers = send(scheme.unsubscribe_msg(scheme.initial_state([instruments[1]])))
    assert session.subscribed == {instruments[0].symbol, instruments[2].symbol}
    conn = scheme.connection_state()
    for raw in answers:  # the venue's answers to it concern no other market
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            frame = raw
        targets, conn = scheme.route(frame, conn)
        assert targets is None or list(targets) == [instruments[1].symbol], raw
