"""Kraken spot v2: hand-written messages for each rule (precisions from the
instrument channel, checksums over levels written to them, truncation, a
resubscribe of one pair), and how an API is chosen for a recording or a
journal now that v1 and v2 share a host."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from level4.cli import main
from level4.replay.capture import url_of
from level4.replay.replayer import replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations import kraken as v1
from translations import scheme_for, scheme_for_journal, scheme_for_market, scheme_for_url
from translations.kraken_futures import scheme as futures
from translations.kraken_v2 import MAX_WAITING, KrakenV2Scheme, scheme
from translations.protocol import Desync, MarketType, Reconnect, Snapshot, Trade, Truncate, Update, Verify

BTC = scheme.instrument("BTC", "USD", MarketType.SPOT)
ETH = scheme.instrument("ETH", "EUR", MarketType.SPOT)
STAMP = "2026-12-07T00:30:00.123456Z"


def instruments(kind: str = "snapshot", **precisions: tuple[int, int]) -> dict[str, Any]:
    """The instrument channel naming pairs (symbol -> (price_precision, qty_precision))."""
    pairs = [
        {"symbol": s, "base": s[:3], "quote": s[4:], "status": "online", "price_precision": p, "qty_precision": q}
        for s, (p, q) in precisions.items()
    ]
    return {"channel": "instrument", "type": kind, "data": {"assets": [], "pairs": pairs}}


PRECISIONS = {"BTC/USD": (1, 8), "ETH/EUR": (2, 8)}


def levels(*pairs: tuple[float, float]) -> list[dict[str, float]]:
    return [{"price": p, "qty": q} for p, q in pairs]


def book(kind: str, symbol: str, bids: list[dict[str, float]], asks: list[dict[str, float]], checksum: int) -> Any:
    entry = {"symbol": symbol, "bids": bids, "asks": asks, "checksum": checksum, "timestamp": STAMP}
    return {"channel": "book", "type": kind, "data": [entry]}


def crc(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """The venue's rule, over levels as the book writes them: best ten asks low to high, then
    best ten bids high to low, point and leading zeros removed."""
    text = "".join(_d(p) + _d(q) for p, q in asks[:10])
    text += "".join(_d(p) + _d(q) for p, q in bids[:10])
    return zlib.crc32(text.encode())


def _d(text: str) -> str:
    return text.replace(".", "").lstrip("0")


# One small book: 0.5 is "0.50000000" to an eight-decimal pair, 50001.0 is "50001.0".
SNAP_BIDS = levels((49999.9, 2.0), (49999.0, 0.00012))
SNAP_ASKS = levels((50000.1, 0.5), (50001.0, 1.25))
# Written out by hand, as the venue's documentation spells the rule:
SNAP_TEXT = b"5000015000000050001012500000049999920000000049999012000"
SNAP_CRC = zlib.crc32(SNAP_TEXT)


def harness(*instruments_: Any, depth: int = 1000) -> SchemeHarness:
    chosen = list(instruments_) or [BTC]
    return SchemeHarness(KrakenV2Scheme(depth), chosen, chosen[0].symbol)


def synced(h: SchemeHarness) -> None:
    h.feed(instruments(**PRECISIONS))
    h.feed(book("snapshot", "BTC/USD", SNAP_BIDS, SNAP_ASKS, SNAP_CRC))


# --- names and registration ------------------------------------------------------------------


def test_names_and_the_venues_apis() -> None:
    assert BTC.symbol == "BTC/USD" and BTC.tag("KRAKEN") == "KRAKEN.SPOT:BTC-USD"
    assert scheme.from_symbol("XBT/EUR").base == "BTC"
    assert scheme.instrument("XDG", "ZUSD", MarketType.SPOT).symbol == "DOGE/USD"  # v1's codes are not v2's
    with pytest.raises(ValueError):
        scheme.from_symbol("BTCUSD")
    assert scheme_for("KRAKEN") is scheme and scheme.api == "" and scheme.ws_url == "wss://ws.kraken.com/v2"
    assert scheme_for("KRAKEN", "v1") is v1.scheme
    assert scheme_for_market("KRAKEN", "BTC", "USD", MarketType.SPOT) == (scheme, BTC)  # the live default
    assert scheme_for_market("KRAKEN", "BTC", "USD", MarketType.PERP)[0] is futures


@pytest.mark.parametrize(
    ("url", "api"),
    [
        ("wss://ws.kraken.com/v2", ""),
        ("wss://ws.kraken.com/v2/", ""),
        ("wss://ws.kraken.com", "v1"),
        ("wss://ws.kraken.com/", "v1"),
        ("ws.kraken.com", "v1"),  # a bare host: the root path
        ("wss://futures.kraken.com/ws/v1", "futures"),
        ("ws://127.0.0.1:8080/", ""),  # a simulator: the first API
    ],
)
def test_a_recording_is_read_by_the_api_at_its_url(url: str, api: str) -> None:
    assert scheme_for_url("KRAKEN", url).api == api


def test_a_journal_is_read_by_the_api_it_names_else_by_its_url() -> None:
    assert scheme_for_journal("KRAKEN", "v1", "ws://127.0.0.1:1/") is v1.scheme
    assert scheme_for_journal("KRAKEN", "", "wss://ws.kraken.com/v2") is scheme
    # written before v2 was the first API: "" then meant v1, as its URL shows
    assert scheme_for_journal("KRAKEN", "", "wss://ws.kraken.com") is v1.scheme
    assert scheme_for_journal("KRAKEN", "", "ws://127.0.0.1:1/") is scheme
    assert scheme_for_journal("COINBASE", "", "ws://127.0.0.1:1/") is scheme_for("COINBASE")


def test_subscribes_instruments_first_then_books_and_new_trades() -> None:
    frames = [orjson.loads(f) for f in KrakenV2Scheme(25).subscribe_msg(scheme.initial_state([BTC, ETH]))]
    assert frames == [
        {"method": "subscribe", "params": {"channel": "instrument", "snapshot": True}},
        {
            "method": "subscribe",
            "params": {"channel": "book", "symbol": ["BTC/USD", "ETH/EUR"], "depth": 1000, "snapshot": True},
        },
        {"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD", "ETH/EUR"], "snapshot": False}},
    ]
    assert [i.symbol for i in scheme.instruments_from_subscribe(frames[1])] == ["BTC/USD", "ETH/EUR"]
    assert scheme.instruments_from_subscribe(frames[0]) == []
    with pytest.raises(ValueError):
        KrakenV2Scheme(20)


# --- book ------------------------------------------------------------------------------------


def test_snapshot_is_written_to_the_pairs_precision_and_its_checksum_verified() -> None:
    h = harness()
    assert h.feed(instruments(**PRECISIONS)) == []
    out = h.feed(book("snapshot", "BTC/USD", SNAP_BIDS, SNAP_ASKS, SNAP_CRC))
    assert [type(i) for i in out] == [Snapshot, Verify]
    assert h.book() == {
        "synchronised": True,
        "bids": [["49999.9", "2.00000000"], ["49999.0", "0.00012000"]],
        "asks": [["50000.1", "0.50000000"], ["50001.0", "1.25000000"]],
    }
    assert h.keeper.checksums_verified == 1 and h.keeper.checksum_failures == 0
    assert h.keeper.books["BTC/USD"].timestamp == pytest.approx(1796603400.123456)
    # without its trailing zeros the same book has another checksum: the zeros are checked
    assert zlib.crc32(b"50000155000112549999924999912") != SNAP_CRC


def test_updates_apply_then_truncate_to_the_depth_then_verify() -> None:
    h = harness(depth=10)
    h.feed(instruments(**PRECISIONS))
    bids = [(f"{100 - n}.0", "1.00000000") for n in range(10)]
    asks = [(f"{101 + n}.0", "2.00000000") for n in range(10)]
    snap = book(
        "snapshot",
        "BTC/USD",
        levels(*((float(p), float(q)) for p, q in bids)),
        levels(*((float(p), float(q)) for p, q in asks)),
        crc(asks, bids),
    )
    h.feed(snap)
    # a new best bid pushes the tenth out (the venue sends no delete for it); an ask goes
    bids = [("100.5", "0.10000000"), *bids[:9]]
    asks = asks[1:]  # a deeper ask would come back into range in its own update
    out = h.feed(book("update", "BTC/USD", levels((100.5, 0.1)), levels((101.0, 0.0)), crc(asks, bids)))
    assert [type(i) for i in out] == [Update, Truncate, Verify]
    assert out[1] == Truncate("BTC/USD", 10)
    assert [tuple(lv) for lv in h.book()["bids"]] == bids
    assert [tuple(lv) for lv in h.book()["asks"]] == asks
    assert h.keeper.checksums_verified == 2 and h.keeper.checksum_failures == 0 and h.sends == []


def test_book_data_before_the_pairs_precision_waits_for_it() -> None:
    h = harness()
    update = book("update", "BTC/USD", levels((49999.5, 1.0)), [], 0)
    early = h.feed(book("snapshot", "BTC/USD", SNAP_BIDS, SNAP_ASKS, SNAP_CRC), update)
    assert early == [] and not h.keeper.books["BTC/USD"].synchronised
    bids = [("49999.9", "2.00000000"), ("49999.5", "1.00000000"), ("49999.0", "0.00012000")]
    asks = [("50000.1", "0.50000000"), ("50001.0", "1.25000000")]
    update["data"][0]["checksum"] = crc(asks, bids)
    h = harness()
    h.feed(book("snapshot", "BTC/USD", SNAP_BIDS, SNAP_ASKS, SNAP_CRC), update)
    out = h.feed(instruments(**PRECISIONS))
    assert [type(i) for i in out] == [Snapshot, Verify, Update, Truncate, Verify]
    assert [tuple(lv) for lv in h.book()["bids"]] == bids and h.keeper.checksum_failures == 0


def test_a_pair_the_instrument_list_lacks_ends_the_connection() -> None:
    h = harness(BTC, ETH)
    out = h.feed(instruments(**{"BTC/USD": (1, 8)}))
    assert h.work.reconnect is not None and "no ETH/EUR" in h.work.reconnect.reason
    assert [i.symbol for i in out if isinstance(i, Desync)] == ["ETH/EUR"]


def test_waiting_is_bounded() -> None:
    h = harness()
    frame = book("update", "BTC/USD", levels((1.0, 1.0)), [], 0)
    for _ in range(MAX_WAITING):
        assert h.feed(frame) == []
    h.feed(frame)
    assert h.work.reconnect is not None and not h.tr.synchronised()


def test_checksum_mismatch_resubscribes_that_pair_alone() -> None:
    h = harness(BTC, ETH)
    h.feed(instruments(**PRECISIONS))
    h.feed(book("snapshot", "BTC/USD", SNAP_BIDS, SNAP_ASKS, SNAP_CRC))
    eth_bids, eth_asks = [("2000.00", "1.00000000")], [("2001.50", "3.00000000")]
    h.feed(book("snapshot", "ETH/EUR", levels((2000.0, 1.0)), levels((2001.5, 3.0)), crc(eth_asks, eth_bids)))
    out = h.feed(book("update", "BTC/USD", levels((49999.5, 1.0)), [], 12345))
    assert any(isinstance(i, Desync) and i.symbol == "BTC/USD" and "checksum mismatch" in i.reason for i in out)
    assert [orjson.loads(f) for f in h.sends] == [
        {"method": "unsubscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 1000}},
        {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 1000, "snapshot": True}},
    ]
    assert h.work.reconnect is None and h.tr.synchronised()
    assert not h.keeper.books["BTC/USD"].synchronised and h.keeper.books["ETH/EUR"].synchronised
    # the old subscription's tail is dropped quietly until the new snapshot
    assert h.feed(book("update", "BTC/USD", levels((49999.4, 1.0)), [], 1)) == []
    assert h.feed({"method": "unsubscribe", "result": {"channel": "book", "symbol": "BTC/USD"}, "success": True}) == []
    h.feed(book("snapshot", "BTC/USD", SNAP_BIDS, SNAP_ASKS, SNAP_CRC))
    assert h.keeper.books["BTC/USD"].synchronised and h.keeper.checksum_failures == 1


def test_an_update_before_any_snapshot_resubscribes() -> None:
    h = harness()
    h.feed(instruments(**PRECISIONS))
    out = h.feed(book("update", "BTC/USD", levels((1.0, 1.0)), [], 0))
    assert any(isinstance(i, Desync) and "before snapshot" in i.reason for i in out) and len(h.sends) == 2


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ({"bids": [{"price": 49999.95, "qty": 1.0}]}, "more than the pair's 1 decimals"),
        ({"bids": [{"price": None, "qty": 1.0}]}, "TypeError"),
        ({"bids": [{"qty": 1.0}]}, "KeyError"),
        ({"checksum": "123"}, "checksum must be an integer"),
        ({"asks": {"price": 1.0}}, "must be lists"),
    ],
)
def test_an_unreadable_book_message_resubscribes_that_pair(entry: dict[str, Any], why: str) -> None:
    h = harness()
    synced(h)
    frame = book("update", "BTC/USD", [], [], 0)
    frame["data"][0] |= entry
    out = h.feed(frame)
    bad = h.work.malformed
    assert len(bad) == 1 and why in bad[0].reason
    assert any(isinstance(i, Desync) for i in out) and len(h.sends) == 2 and h.work.reconnect is None
    assert h.book() == {"synchronised": False, "bids": [], "asks": []}


def test_a_precision_change_resubscribes_that_pair() -> None:
    h = harness()
    synced(h)
    assert h.feed(instruments("update", **PRECISIONS)) == []  # the same: nothing
    out = h.feed(instruments("update", **{"BTC/USD": (2, 8)}))
    assert any(isinstance(i, Desync) and "precisions changed" in i.reason for i in out) and len(h.sends) == 2
    assert h.tr.state.pairs["BTC/USD"].price_places == 2


# --- trades, keep-alives, answers, errors ---------------------------------------------------


def test_trades_carry_the_takers_side_and_the_id() -> None:
    h = harness()
    h.feed(instruments(**PRECISIONS))
    trade = {"symbol": "BTC/USD", "side": "sell", "price": 50000.1, "qty": 0.25, "ord_type": "market"}
    trade |= {"trade_id": 4665906, "timestamp": STAMP}
    out = h.feed({"channel": "trade", "type": "update", "data": [trade, {**trade, "side": "buy", "price": 50000.15}]})
    # Fields one by one: compiled, a Trade's timestamp holds only a float, never pytest's approx.
    assert [(t.symbol, t.side, t.price, t.size, t.trade_id) for t in out if isinstance(t, Trade)] == [
        ("BTC/USD", "sell", "50000.1", "0.25000000", "4665906"),
        ("BTC/USD", "buy", "50000.15", "0.25000000", "4665906"),
    ]
    assert len(out) == 2 and all(t.timestamp == pytest.approx(1796603400.123456) for t in out if isinstance(t, Trade))
    assert h.feed({"channel": "trade", "type": "snapshot", "data": [trade]}) == []  # past trades
    assert h.feed({"channel": "trade", "type": "update", "data": [{**trade, "side": "x"}]}) == []
    assert len(h.work.malformed) == 1 and "side" in h.work.malformed[0].reason


def test_heartbeats_status_and_acknowledgements_are_quiet() -> None:
    h = harness()
    status = {"channel": "status", "type": "update", "data": [{"api_version": "v2", "system": "online"}]}
    ack = {"method": "subscribe", "result": {"channel": "book", "symbol": "BTC/USD"}, "success": True}
    pong = {"method": "pong", "time_in": STAMP, "time_out": STAMP}
    assert h.feed(status, ack, pong, '{"channel":"heartbeat"}') == []
    assert h.tr.malformed == 0
    assert scheme.keepalive('{"channel":"heartbeat"}') and scheme.keepalive(b'{"channel":"heartbeat"}')
    assert not scheme.keepalive('{"channel":"book"}')
    assert scheme.ping_msg(scheme.initial_state([BTC])) == ['{"method":"ping"}']


def test_a_refused_subscription_ends_the_connection() -> None:
    h = harness()
    refused = {"error": "Currency pair not supported BTC/USD", "method": "subscribe", "success": False}
    out = h.feed({**refused, "symbol": "BTC/USD"})
    assert [type(i) for i in out] == [Desync] and isinstance(h.work.reconnect, Reconnect)
    assert "Currency pair not supported" in h.work.malformed[0].reason and not h.tr.synchronised()


def test_a_refused_unsubscribe_is_reported_and_kept() -> None:
    h = harness()
    out = h.feed({"error": "Subscription Not Found", "method": "unsubscribe", "success": False, "symbol": "BTC/USD"})
    assert out == [] and len(h.work.malformed) == 1 and h.work.reconnect is None and h.tr.synchronised()


@pytest.mark.parametrize(
    "frame",
    [
        "[1,2]",
        '{"channel":"ohlc","type":"update","data":[]}',
        '{"method":"nonsense"}',
        '"text"',
        '{"channel":"book","type":"x","data":[]}',
    ],
)
def test_frames_of_no_known_shape_are_malformed(frame: str) -> None:
    h = harness()
    assert h.feed(frame) == []
    assert len(h.work.malformed) == 1 and h.work.reconnect is None and h.tr.synchronised()


# --- v1 sessions still replay with v1 ---------------------------------------------------------


def test_v1_sessions_replay_with_v1_exactly() -> None:
    files = [capture("KRAKEN.ws.50.0")]
    chosen = scheme_for_url("KRAKEN", url_of(files))
    assert chosen is v1.scheme
    ours, summary = replay(chosen, files)
    theirs, expected = replay(v1.KrakenScheme(), files)
    assert summary.checksums_verified == expected.checksums_verified > 4000 and summary.checksum_failures == 0
    assert {s: b.as_dict() for r in ours for s, b in r.keeper.books.items()} == {
        s: b.as_dict() for r in theirs for s, b in r.keeper.books.items()
    }


def test_a_v2_recording_replays_with_v2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A session recorded at ws.kraken.com/v2 (written here in the capture format) is read by v2."""
    url = "wss://ws.kraken.com/v2"
    sub = scheme.subscribe_msg(scheme.initial_state([BTC]))
    lines = [f"{url} <-> 1796603400.0"] + [f"{url} <- 1796603400.1: {f}" for f in sub]
    frames = [instruments(**PRECISIONS), book("snapshot", "BTC/USD", SNAP_BIDS, SNAP_ASKS, SNAP_CRC)]
    lines += [f"1796603400.{n + 2}: {orjson.dumps(f).decode()}" for n, f in enumerate(frames)]
    path = tmp_path / "KRAKEN.ws.1.0"
    path.write_text("\n".join(lines) + "\n")
    assert scheme_for_url("KRAKEN", url_of([path])) is scheme
    replays, summary = replay(scheme, [path])
    assert summary.checksums_verified == 1 and summary.checksum_failures == 0 and summary.malformed == 0
    assert replays[0].keeper.books["BTC/USD"].as_dict()["asks"] == [
        ["50000.1", "0.50000000"],
        ["50001.0", "1.25000000"],
    ]
    # as a user runs it: the URL's path picks v2 for --venue KRAKEN
    assert main(["replay", "--venue", "KRAKEN", str(path)]) == 0
    summary = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["checksums_verified"] == 1 and summary["malformed"] == 0 and summary["unsynchronised"] == []
