"""The consolidated top of book from market events: one event per change
of best bid, best ask or crossed state, per subscribed group."""

from __future__ import annotations

from typing import Any

from level4.consolidated.pair_groups import pair_of_tag, parse_group
from level4.consolidated.tops import ConsolidatedTops


def top(market_id: int, tag: str, bid: list[str] | None, ask: list[str] | None) -> dict[str, Any]:
    return {
        "channel": "top",
        "market_id": market_id,
        "market": tag,
        "sequence": 1,
        "venue_time": None,
        "received_at": 1.0,
        "bid": bid,
        "ask": ask,
    }


def test_changes_of_the_best_levels_only_and_in_sequence() -> None:
    tops = ConsolidatedTops()
    tops.consume(top(1, "COINBASE.SPOT:BTC-USD", ["100", "1"], ["102", "1"]))
    got: list[dict[str, Any]] = []
    tops.subscribe(parse_group("BTC-USD"), got.append)
    assert got[0]["bid"] == {"price": "100", "size": "1", "venues": {"COINBASE.SPOT:BTC-USD": "1"}}
    assert got[0]["sequence"] == 1 and got[0]["market"] == "BTC-USD" and got[0]["crossed"] is False

    tops.consume(top(2, "KRAKEN.SPOT:BTC-USD", ["99", "5"], ["103", "5"]))  # worse on both sides: no change
    assert len(got) == 1
    tops.consume(top(2, "KRAKEN.SPOT:BTC-USD", ["100.0", "2"], ["103", "5"]))  # joins the best bid
    assert got[-1]["bid"] == {
        "price": "100",
        "size": "3",
        "venues": {"COINBASE.SPOT:BTC-USD": "1", "KRAKEN.SPOT:BTC-USD": "2"},
    }
    tops.consume(top(2, "KRAKEN.SPOT:BTC-USD", ["102", "2"], ["103", "5"]))  # at another venue's ask
    assert got[-1]["crossed"] is True and got[-1]["bid"]["price"] == "102"
    tops.consume({"channel": "status", "market_id": 2, "status": "stopped", "venue_time": None, "received_at": 2.0})
    assert got[-1]["crossed"] is False and got[-1]["bid"]["venues"] == {"COINBASE.SPOT:BTC-USD": "1"}
    assert [e["sequence"] for e in got] == [1, 2, 3, 4]


def test_quotes_apart_unless_equivalent_and_other_instruments_ignored() -> None:
    tops = ConsolidatedTops()
    usd: list[dict[str, Any]] = []
    both: list[dict[str, Any]] = []
    tops.subscribe(parse_group("BTC-USD"), usd.append)
    tops.subscribe(parse_group("BTC-USD", ["usdt"]), both.append)
    tops.consume(top(3, "BINANCE.SPOT:BTC-USDT", ["100", "1"], ["101", "1"]))
    tops.consume(top(4, "BITMEX.PERP:BTC-USD", ["100", "1"], ["101", "1"]))
    tops.consume(top(5, "DERIBIT.FUTURE:BTC-24SEP21", ["100", "1"], ["101", "1"]))
    assert len(usd) == 1 and usd[0]["bid"] is None
    assert len(both) == 2 and both[-1]["bid"]["venues"] == {"BINANCE.SPOT:BTC-USDT": "1"}
    assert both[-1]["quotes"] == ["USD", "USDT"]
    tops.unsubscribe(parse_group("BTC-USD", ["usdt"]), both.append)
    tops.consume(top(3, "BINANCE.SPOT:BTC-USDT", ["100.5", "1"], ["101", "1"]))
    assert len(both) == 2


def test_pairs_of_tags_and_groups() -> None:
    assert pair_of_tag("KRAKEN.SPOT:BTC-USD") is not None
    assert pair_of_tag("DERIBIT.OPTION:BTC-24SEP21-8000-P") is None
    assert parse_group("perp:btc-usd").name == "PERP:BTC-USD"
    for bad in ("BTC", "OPTION:BTC-USD", "BTC-"):
        try:
            parse_group(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
