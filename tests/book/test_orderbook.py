"""The book against a plain model: every change, every read, best first."""

from __future__ import annotations

import random
from decimal import Decimal

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import BookStatus, TopChange
from translations.protocol import BookFault, Desync, MarketType, Snapshot, Update


def model_levels(side: dict[Decimal, tuple[str, str]], bids: bool) -> list[tuple[str, str]]:
    return [side[p] for p in sorted(side, reverse=bids)]


def test_random_changes_match_a_sorted_model() -> None:
    rng = random.Random(7)
    book = OrderBook("X")
    model: dict[bool, dict[Decimal, tuple[str, str]]] = {True: {}, False: {}}
    book.replace([], [])
    for step in range(5000):
        is_bid = rng.random() < 0.5
        ticks = rng.randint(9_900, 10_100) if is_bid else rng.randint(10_101, 10_300)
        # the same price written differently must be the same level
        price = f"{ticks / 100:.2f}" if rng.random() < 0.5 else f"{ticks / 100:.4f}"
        size = "0" if rng.random() < 0.3 else f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
        level = (price, size)
        book.update([level] if is_bid else [], [] if is_bid else [level])
        side = model[is_bid]
        if Decimal(size) == 0:
            side.pop(Decimal(price), None)
        else:
            side[Decimal(price)] = level
        if step % 97 == 0:
            assert book.bids_levels() == model_levels(model[True], True)
            assert book.asks_levels() == model_levels(model[False], False)
            assert book.bids_levels(5) == model_levels(model[True], True)[:5]
            assert book.asks_levels(0) == []
            best_bid = model_levels(model[True], True)[:1]
            assert book.best_bid() == (best_bid[0] if best_bid else None)
    book.truncate(3)
    assert book.bids_levels() == model_levels(model[True], True)[:3]
    assert book.asks_levels() == model_levels(model[False], False)[:3]
    assert len(book.bids) == 3 and len(book.asks) == 3


def test_strings_are_kept_and_crossing_is_seen() -> None:
    book = OrderBook("X")
    book.replace([("1.50", "2.000"), ("1.4", "0")], [("1.6", "1e-8")])
    assert book.bids_levels() == [("1.50", "2.000")]
    book.update([("1.5", "3")], [])
    assert book.as_dict() == {"synchronised": True, "bids": [["1.5", "3"]], "asks": [["1.6", "1e-8"]]}
    assert not book.crossed()
    book.update([("1.60", "1")], [])
    assert book.crossed()


def test_top_change_once_per_batch_and_only_when_the_top_moves() -> None:
    keeper = BookKeeper(["X"])
    events: list[object] = []
    keeper.apply([Snapshot("X", [("10", "1")], [("11", "1")])], events, [])  # type: ignore[arg-type]
    assert [e for e in events if isinstance(e, TopChange)] == [TopChange("X", ("10", "1"), ("11", "1"), None)]
    events.clear()
    deep = Update("X", [("9", "1")], [])
    keeper.apply([deep, Update("X", [], [("12", "5")])], events, [])  # type: ignore[arg-type]
    assert events == []  # below the top: no event
    keeper.apply([Update("X", [("10", "2")], []), Update("X", [("10", "3")], [])], events, [])  # type: ignore[arg-type]
    assert events == [TopChange("X", ("10", "3"), ("11", "1"), None)]
    events.clear()
    keeper.apply([Update("X", [("10", "3")], [])], events, [])  # type: ignore[arg-type]
    assert events == []  # the same level again is no change
    keeper.apply([Desync("X", "gap")], events, [])  # type: ignore[arg-type]
    assert events[-1] == TopChange("X", None, None, None)


def test_a_level_that_is_no_number_clears_the_book_and_is_reported_never_raised() -> None:
    keeper = BookKeeper(["X"])
    events: list[object] = []
    reports: list[object] = []
    keeper.apply([Snapshot("X", [("10", "1")], [("11", "1")])], events, reports)  # type: ignore[arg-type]
    events.clear()
    keeper.apply([Update("X", [("10.5", "2"), ("ten", "1")], [])], events, reports)  # type: ignore[arg-type]
    book = keeper.books["X"]
    assert not book.synchronised and book.bids_levels() == [] and "ten" in (book.reason or "")
    (fault,) = reports
    assert isinstance(fault, BookFault) and fault.symbol == "X" and "bad level" in fault.reason
    assert [type(e) for e in events] == [BookStatus, TopChange]
    # a snapshot with such a level is refused the same way, and a good one makes the book whole again
    keeper.apply([Snapshot("X", [("10", None)], [])], events, reports)  # type: ignore[arg-type]
    assert len(reports) == 2 and not book.synchronised
    keeper.apply([Snapshot("X", [("10", "1")], [("11", "1")])], events, reports)  # type: ignore[arg-type]
    assert book.synchronised and book.best_bid() == ("10", "1")


def test_the_replay_renews_the_connection_after_a_refused_level() -> None:
    from level4.replay.replayer import Connection, Replay
    from translations.poloniex import scheme

    btc = scheme.instrument("BTC", "USDT", MarketType.SPOT)

    def frame(action: str, last_id: int, new_id: int, bids: list[list[str]]) -> str:
        item = {"symbol": "BTC_USDT", "createTime": 1661123517832, "asks": [["21617.15", "0.34"]], "bids": bids}
        item.update(lastId=last_id, id=new_id, ts=1661123517837)
        return orjson.dumps({"channel": "book_lv2", "data": [item], "action": action}).decode()

    frames = [
        (1.0, frame("snapshot", 99, 100, [["21612.26", "0.68"]])),
        (2.0, frame("update", 100, 101, [["NaN?", "1"]])),
    ]
    rp = Replay(scheme, Connection("", [btc], frames), {})
    for received, raw in frames:
        rp.feed(received, raw)
    rp.finish()
    assert rp.reconnects_requested == 1 and rp.translator.malformed == 1
    assert not rp.keeper.books[btc.symbol].synchronised
