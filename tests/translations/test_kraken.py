"""Kraken websocket v1: hand-written frames for each rule, then the real captures."""

from __future__ import annotations

import zlib

import orjson

from level4.replay.replayer import Replay, load, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations.kraken import KrakenScheme, scheme
from translations.protocol import (
    Desync,
    MarketType,
    Reconnect,
    Snapshot,
    Trade,
    Truncate,
    Update,
    Verify,
)

BTC = scheme.instrument("BTC", "USD", MarketType.SPOT)
ETH = scheme.instrument("ETH", "USD", MarketType.SPOT)


class Harness(SchemeHarness):
    def __init__(self, depth: int = 1000) -> None:
        super().__init__(KrakenScheme(depth), [BTC, ETH], "XBT/USD")


def crc(text: str) -> str:
    return str(zlib.crc32(text.encode()))


def snap(pair: str = "XBT/USD", asks: list | None = None, bids: list | None = None, depth: int = 1000) -> list:
    asks = [["0.05005", "0.00000500", "1.0"], ["0.05010", "0.00500000", "1.0"]] if asks is None else asks
    bids = [["0.05000", "0.00000500", "1.0"], ["0.04995", "0.00500000", "1.0"]] if bids is None else bids
    return [336, {"as": asks, "bs": bids}, f"book-{depth}", pair]


# The snapshot above, formatted by hand: asks low to high, then bids high to low,
# each as price then volume with the point and the leading zeros dropped.
SNAP_TEXT = "5005500" + "5010500000" + "5000500" + "4995500000"


def test_subscribe_frames_and_ping() -> None:
    state = scheme.initial_state([BTC, ETH])
    book, trade = (orjson.loads(f) for f in scheme.subscribe_msg(state))
    assert book == {
        "event": "subscribe",
        "pair": ["XBT/USD", "ETH/USD"],
        "subscription": {"name": "book", "depth": 1000},
    }
    assert trade == {"event": "subscribe", "pair": ["XBT/USD", "ETH/USD"], "subscription": {"name": "trade"}}
    assert [orjson.loads(f) for f in scheme.ping_msg(state)] == [{"event": "ping"}]
    assert scheme.ws_url == "wss://ws.kraken.com"


def test_symbols_use_kraken_asset_names() -> None:
    assert BTC.symbol == "XBT/USD" and BTC.pair == "BTC-USD"
    assert scheme.instrument("doge", "usd", MarketType.SPOT).symbol == "XDG/USD"
    assert scheme.from_symbol("XDG/EUR").pair == "DOGE-EUR"
    sub = {"event": "subscribe", "pair": ["XBT/CHF", "ADA/XBT"], "subscription": {"name": "book", "depth": 10}}
    assert [i.pair for i in scheme.instruments_from_subscribe(sub)] == ["BTC-CHF", "ADA-BTC"]
    assert scheme.instruments_from_subscribe({"event": "ping"}) == []
    try:
        scheme.instrument("BTC", "USD", MarketType.PERP)
    except ValueError:
        pass
    else:
        raise AssertionError("Kraken spot feed has no perpetuals")


def test_checksum_formatting_matches_kraken_rules() -> None:
    h = Harness()
    h.feed(snap())
    assert scheme.checksum(h.keeper.books["XBT/USD"], "XBT/USD") == int(crc(SNAP_TEXT))


def test_snapshot_then_two_sided_update_verifies_checksum() -> None:
    h = Harness()
    h.feed(snap())
    # asks and bids in two maps of one frame; the checksum sits in the last one
    update = [
        336,
        {"a": [["0.05010", "0.00000000", "2.5"]]},
        {"b": [["0.05000", "0.00000250", "2.6"]], "c": crc("5005500" + "5000250" + "4995500000")},
        "book-1000",
        "XBT/USD",
    ]
    out = h.feed(update)
    assert [type(i) for i in out] == [Update, Truncate, Verify]
    assert out[0].timestamp == 2.6  # type: ignore[union-attr]
    assert h.keeper.checksums_verified == 1 and h.keeper.checksum_failures == 0
    assert h.book() == {
        "synchronised": True,
        "bids": [["0.05000", "0.00000250"], ["0.04995", "0.00500000"]],
        "asks": [["0.05005", "0.00000500"]],
    }


def test_levels_pushed_beyond_depth_are_truncated_before_the_checksum() -> None:
    h = Harness(depth=10)
    asks = [[f"{101 + i}.0", "1.0", "1.0"] for i in range(10)]
    bids = [[f"{100 - i}.0", "1.0", "1.0"] for i in range(10)]
    h.feed(snap(asks=asks, bids=bids, depth=10))
    # a new best ask: the tenth ask (110.0) leaves the subscribed depth, unannounced
    new = [["100.5", "2.0", "2.0"]]
    kept = [["100.5", "2.0"]] + [[a[0], a[1]] for a in asks[:9]]
    text = "".join(p.replace(".", "").lstrip("0") + s.replace(".", "").lstrip("0") for p, s in kept)
    text += "".join(b[0].replace(".", "").lstrip("0") + b[1].replace(".", "").lstrip("0") for b in bids)
    out = h.feed([336, {"a": new, "c": crc(text)}, "book-10", "XBT/USD"])
    assert [type(i) for i in out] == [Update, Truncate, Verify]
    assert h.keeper.checksum_failures == 0 and h.keeper.checksums_verified == 1
    book = h.keeper.books["XBT/USD"]
    assert len(book.asks) == 10 and book.asks_levels()[-1][0] == "109.0"


def test_republished_level_is_an_ordinary_set() -> None:
    h = Harness(depth=10)
    h.feed(snap(depth=10))
    # a delete in range brings a deeper level back, flagged "r"
    h.feed(
        [336, {"a": [["0.05005", "0.00000000", "3.0"], ["0.05015", "0.00000500", "1.0", "r"]]}, "book-10", "XBT/USD"]
    )
    assert h.book()["asks"] == [["0.05010", "0.00500000"], ["0.05015", "0.00000500"]]


def test_checksum_mismatch_resubscribes_only_that_pair() -> None:
    h = Harness()
    h.feed(snap(), snap("ETH/USD"))
    out = h.feed([336, {"b": [["0.04990", "1.00000000", "3.0"]], "c": "12345"}, "book-1000", "XBT/USD"])
    desync = [i for i in out if isinstance(i, Desync)]
    assert len(desync) == 1 and desync[0].symbol == "XBT/USD" and "checksum" in desync[0].reason
    assert [orjson.loads(f) for f in h.sends] == [
        {"event": "unsubscribe", "pair": ["XBT/USD"], "subscription": {"name": "book", "depth": 1000}},
        {"event": "subscribe", "pair": ["XBT/USD"], "subscription": {"name": "book", "depth": 1000}},
    ]
    assert not h.keeper.books["XBT/USD"].synchronised
    assert h.keeper.books["ETH/USD"].synchronised
    assert h.tr.synchronised()  # the connection itself is fine
    # updates still in flight from the old subscription are dropped quietly
    assert h.feed([336, {"a": [["0.06", "1.0", "4.0"]], "c": "1"}, "book-1000", "XBT/USD"]) == []
    # the fresh snapshot makes the book whole again
    h.feed(snap())
    assert h.keeper.books["XBT/USD"].synchronised
    assert h.tr.resyncs == 1


def test_lost_or_reordered_update_is_caught_by_the_checksum() -> None:
    h = Harness()
    h.feed(snap())
    first = "5005500" + "5010500000" + "5000500" + "4995500000" + "4990100000000"
    second = "5005500" + "5010500000" + "5000500" + "4990100000000"
    upd1 = [336, {"b": [["0.04990", "1.00000000", "3.0"]], "c": crc(first)}, "book-1000", "XBT/USD"]
    upd2 = [336, {"b": [["0.04995", "0.00000000", "3.1"]], "c": crc(second)}, "book-1000", "XBT/USD"]
    h.feed(upd1, upd1)  # a repeat of a set is harmless: the checksum still holds
    h.feed(upd2)
    assert h.keeper.checksum_failures == 0 and h.keeper.checksums_verified == 3
    h2 = Harness()
    h2.feed(snap(), upd2, upd1)  # out of order
    assert h2.keeper.checksum_failures == 1
    assert not h2.keeper.books["XBT/USD"].synchronised


def test_update_before_snapshot_resubscribes() -> None:
    h = Harness()
    out = h.feed([336, {"a": [["1.0", "1.0", "1.0"]], "c": "1"}, "book-1000", "XBT/USD"])
    assert [type(i) for i in out] == [Desync]
    assert len(h.sends) == 2


def test_empty_sides_and_zero_size_deletes() -> None:
    h = Harness()
    h.feed(snap(bids=[]))
    assert h.book()["bids"] == []
    h.feed([336, {"a": [["0.05005", "0.00000000", "2.0"], ["0.05010", "0.0", "2.0"]]}, "book-1000", "XBT/USD"])
    assert h.book() == {"synchronised": True, "bids": [], "asks": []}


def test_trades_carry_the_taker_side() -> None:
    h = Harness()
    frame = [
        337,
        [
            ["5541.20000", "0.15850568", "1534614057.321597", "s", "l", ""],
            ["6060.00000", "0.02455000", "1.5", "b", "m", ""],
        ],
        "trade",
        "XBT/USD",
    ]
    sell, buy = h.feed(frame)
    assert isinstance(sell, Trade) and isinstance(buy, Trade)
    assert (sell.side, sell.price, sell.size, sell.timestamp) == ("sell", "5541.20000", "0.15850568", 1534614057.321597)
    assert (buy.side, buy.price, buy.size, buy.symbol) == ("buy", "6060.00000", "0.02455000", "XBT/USD")


def test_events_unknown_and_malformed_frames() -> None:
    h = Harness()
    h.feed(snap())
    quiet = [
        {"event": "heartbeat"},
        {"event": "pong", "reqid": 1},
        {"connectionID": 1, "event": "systemStatus", "status": "online", "version": "1.9.0"},
        {"channelID": 336, "event": "subscriptionStatus", "pair": "XBT/USD", "status": "subscribed"},
    ]
    assert h.feed(*quiet) == []
    assert h.tr.malformed == 0
    h.feed({"event": "mystery"}, "not json", [1, {"x": 1}, "spread", "XBT/USD"])
    assert h.tr.malformed == 3 and h.work.reconnect is None and h.keeper.books["XBT/USD"].synchronised
    # a level the book cannot read: nothing of it applied, the book cleared, the connection renewed
    h.feed([336, {"a": [["6000.1", "1", "1"], ["abc", "1", "1"]]}, "book-1000", "XBT/USD"])
    assert h.tr.malformed == 4 and not h.keeper.books["XBT/USD"].synchronised
    assert isinstance(h.work.reconnect, Reconnect) and "abc" in h.work.reconnect.reason
    assert "bad level" in h.work.malformed[-1].reason
    h.work.clear()
    # a refused subscription: the pair cannot be served on this connection
    refusal = {"errorMessage": "Currency pair not supported", "event": "subscriptionStatus", "pair": "ETH/USD"}
    h.feed({**refusal, "status": "error"})
    assert isinstance(h.work.reconnect, Reconnect) and not h.tr.synchronised()


def test_other_spelling_of_a_pair_finds_its_market() -> None:
    h = Harness()
    out = h.feed(snap("BTC/USD"))
    assert isinstance(out[0], Snapshot) and out[0].symbol == "XBT/USD"


# --- the real captures ------------------------------------------------------------


def test_capture_every_checksum_matches() -> None:
    """KRAKEN.ws.50.0: ten pairs at depth 1000, 30 s. Kraken's checksum covers
    the top ten levels a side after every update: each one must match."""
    verified: dict[str, int] = {}
    seen = 0

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal seen
        if rp.keeper.checksums_verified != seen:
            pair = orjson.loads(raw)[-1]
            verified[pair] = verified.get(pair, 0) + rp.keeper.checksums_verified - seen
            seen = rp.keeper.checksums_verified

    replays, summary = replay(scheme, [capture("KRAKEN.ws.50.0")], hook)
    assert summary.frames == 4321 and summary.markets == 10
    assert summary.checksums_verified == 4269 and summary.checksum_failures == 0
    assert verified == {
        "XMR/USD": 846,
        "SC/EUR": 818,
        "WAVES/EUR": 576,
        "ETH/CHF": 317,
        "KSM/XBT": 335,
        "OCEAN/XBT": 148,
        "XBT/CHF": 289,
        "OMG/USD": 573,
        "ADA/XBT": 347,
        "GRT/ETH": 20,
    }
    # No pair lost sync in this session: nothing to resync, nothing malformed.
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    (rp,) = replays
    for book in rp.keeper.books.values():
        assert book.synchronised and not book.crossed() and book.bids and book.asks
    assert len(rp.keeper.books["ADA/XBT"].asks) == 840


def test_capture_with_a_lost_frame_is_caught_for_that_pair_only() -> None:
    """Drop one XMR/USD update from the session: the next checksum exposes it
    and only XMR/USD goes out of sync (and asks for a resubscribe)."""
    session = load(scheme, [capture("KRAKEN.ws.50.0")])
    (conn,) = session.connections
    lost = next(i for i, (_, raw) in enumerate(conn.frames) if raw.endswith('"XMR/USD"]') and '"c"' in raw)
    frames = conn.frames[:lost] + conn.frames[lost + 1 :]
    rp = Replay(scheme, conn, session.rest)
    for received, raw in frames:
        rp.feed(received, raw)
    assert rp.keeper.checksum_failures == 1
    out_of_sync = sorted(s for s, b in rp.keeper.books.items() if not b.synchronised)
    assert out_of_sync == ["XMR/USD"]
    assert "checksum mismatch" in (rp.keeper.books["XMR/USD"].reason or "")
    assert rp.translator.resyncs == 1


def test_trade_capture() -> None:
    """KRAKEN.ws.48.0: the trade channel of the same ten pairs."""
    trades: list[Trade] = []

    def hook(_t: float, raw: str, rp: Replay) -> None:
        trades.extend(e for e in rp.events if isinstance(e, Trade))
        rp.events.clear()

    _, summary = replay(scheme, [capture("KRAKEN.ws.48.0")], hook)
    assert summary.markets == 10 and summary.trades == 10 and summary.malformed == 0
    first = trades[0]
    assert (first.symbol, first.side, first.price, first.size, first.timestamp) == (
        "XMR/USD",
        "sell",
        "354.11000000",
        "0.89594024",
        1618678142.557535,
    )
    by_pair: dict[str, int] = {}
    for t in trades:
        by_pair[t.symbol] = by_pair.get(t.symbol, 0) + 1
    assert sum(by_pair.values()) == 10
    assert {t.side for t in trades} == {"buy", "sell"}
