"""The client's rules for a market's events, without sockets: sequence and
epoch checks, how a mirror applies snapshots, deltas and statuses, market
patterns and the reconnect delays."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from level4.client import BookMirror, Level, ReconnectPolicy, SlowConsumer, UnknownMarket
from level4.client.event_feeds import Feed
from level4.client.gap_tracker import Epochs, GapTracker, Phase, Verdict
from level4.client.market_patterns import resolve


def ev(channel: str, sequence: int, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "market_id": 1, "market": "X.SPOT:A-B", "sequence": sequence, **extra}


def book(sequence: int, snapshot: bool, bids: list[list[Any]], asks: list[list[Any]], **extra: Any) -> dict[str, Any]:
    fields = {"snapshot": snapshot, "synchronised": True, "bids": bids, "asks": asks, "reason": None}
    return ev("book", sequence, **(fields | extra))


def test_nothing_counts_before_the_confirmed_subscription_snapshot() -> None:
    t = GapTracker()
    assert t.check(ev("top", 3)) is Verdict.BEFORE  # not yet confirmed
    t.arm()
    assert t.check(ev("trade", 4)) is Verdict.BEFORE  # covered by the snapshot to come
    assert t.check(book(4, True, [], [])) is Verdict.APPLY
    assert t.check(ev("top", 5)) is Verdict.APPLY
    assert t.check(book(6, False, [], [])) is Verdict.APPLY
    assert t.phase is Phase.LIVE and t.sequence == 6


@pytest.mark.parametrize("sequence", [8, 6, 5])
def test_any_other_number_than_the_next_is_a_gap(sequence: int) -> None:
    t = GapTracker()
    t.arm()
    t.check(book(5, True, [], []))
    t.check(ev("top", 6))
    assert t.check(ev("trade", sequence)) is Verdict.GAP
    assert t.gap == f"sequence 6 -> {sequence}" and t.phase is Phase.WAITING
    assert t.check(ev("trade", 7)) is Verdict.BEFORE  # until the book is confirmed again


def test_a_subscription_opened_by_a_delta_is_a_gap() -> None:
    t = GapTracker()
    t.arm()
    assert t.check(book(5, False, [], [])) is Verdict.GAP


def test_a_new_epoch_must_open_with_a_snapshot() -> None:
    t = GapTracker()
    t.arm()
    t.check(book(10, True, [], [], epoch=1))
    assert t.check(ev("top", 11, epoch=1)) is Verdict.APPLY
    assert t.check(book(1, True, [], [], epoch=2)) is Verdict.APPLY  # numbered anew, from a snapshot
    assert (t.epoch, t.sequence) == (2, 1)
    assert t.check(ev("top", 2, epoch=2)) is Verdict.APPLY
    assert t.check(ev("top", 3, epoch=3)) is Verdict.GAP
    assert t.gap == "epoch 2 -> 3 without a snapshot"


def test_the_mirror_applies_snapshots_deltas_and_statuses() -> None:
    m = BookMirror("X.SPOT:A-B", 1)
    assert not m.synchronised and m.reason == "no snapshot yet"
    m.apply_event(book(4, True, [["10.0", "1"], ["9.5", "2"]], [["10.5", "3"], ["11", "4", 7]]))
    assert m.synchronised and m.sequence == 4 and m.reason is None
    assert m.bids[:] == [Level(Decimal("10.0"), Decimal("1")), Level(Decimal("9.5"), Decimal("2"))] == m.bids
    assert m.bids != m.asks and list(m.bids) == m.view().bids
    assert str(m.bids[0].price) == "10.0"  # the service's string, kept
    assert m.asks[1] == (Decimal(11), Decimal(4)) and m.orders("ask", "11.00") == 7
    m.apply_event(book(5, False, [["10.00", "0"], ["9.75", "5"]], [["10.25", "1"], ["12", "0"]]))
    assert [lv.price for lv in m.bids] == [Decimal("9.75"), Decimal("9.5")]  # "10.00" removed "10.0"
    assert [lv.price for lv in m.asks] == [Decimal("10.25"), Decimal("10.5"), Decimal("11")]
    m.apply_event(ev("status", 6, status="reconnecting", reason="venue closed"))
    assert not m.synchronised and m.reason == "venue closed" and len(m.bids) == 0  # never stale
    m.apply_event(book(7, True, [], [], synchronised=False, reason="feed lost"))
    assert not m.synchronised and m.reason == "feed lost"
    m.apply_event(book(9, True, [["1", "1"]], [["2", "1"]]))
    assert m.synchronised and m.view().bids == [(Decimal(1), Decimal(1))]
    m.apply_event(ev("status", 10, status="synchronised", reason=None))
    assert m.synchronised
    m.mark_lost("disconnected: test")
    assert not m.synchronised and m.reason == "disconnected: test" and not m.asks


def test_patterns_ids_and_tags_choose_markets() -> None:
    markets = [
        {"id": 1, "tag": "BINANCE.PERP:BTC-USDT"},
        {"id": 2, "tag": "BINANCE.PERP:ETH-USDT"},
        {"id": 3, "tag": "BINANCE.SPOT:BTC-USDT"},
    ]
    assert resolve(["binance.perp:*"], markets, strict=True) == {1: markets[0]["tag"], 2: markets[1]["tag"]}
    assert resolve([3, "2", "BINANCE.PERP:BTC-USDT"], markets, strict=True).keys() == {1, 2, 3}
    assert resolve(["*:BTC-*"], markets, strict=True).keys() == {1, 3}
    with pytest.raises(UnknownMarket, match="matches 'KRAKEN"):
        resolve(["KRAKEN.*"], markets, strict=True)
    with pytest.raises(UnknownMarket):
        resolve([4], markets, strict=True)
    assert resolve(["KRAKEN.*", 4], markets, strict=False) == {}


def test_reconnect_delays_double_with_jitter_up_to_the_cap() -> None:
    policy = ReconnectPolicy(initial=0.1, factor=2, maximum=1.0, jitter=0.5)
    draw = random.Random(7)
    for attempt, nominal in enumerate([0.1, 0.2, 0.4, 0.8, 1.0, 1.0]):
        delays = [policy.delay(attempt, draw) for _ in range(200)]
        assert all(nominal * 0.5 <= d <= nominal for d in delays)
        assert max(delays) - min(delays) > nominal * 0.3  # spread, so clients do not return in step
    with pytest.raises(ValueError):
        ReconnectPolicy(initial=0)


def test_a_callback_that_raises_costs_nothing_but_its_own_call() -> None:
    m = BookMirror("X.SPOT:A-B", 1)
    seen: list[int | None] = []

    def broken(_: BookMirror) -> None:
        raise RuntimeError("a consumer's bug")

    m.on_change(broken)
    stop = m.on_change(lambda mirror: seen.append(mirror.sequence))
    m.apply_event(book(1, True, [["1", "1"]], [["2", "1"]]))
    m.apply_event(book(2, False, [["1", "2"]], []))
    stop()
    m.apply_event(book(3, False, [["1", "3"]], []))
    assert seen == [1, 2] and m.bids[0].size == 3


async def test_a_feed_left_unread_past_its_bound_ends_with_slow_consumer() -> None:
    feed = Feed(["X.SPOT:A-B"], ["trade"], limit=3)
    for n in range(3):
        feed.push(ev("trade", n + 1))
    assert (await feed.next())["sequence"] == 1
    feed.push(ev("trade", 4))
    feed.push(ev("trade", 5))  # the fourth unread: lost, so the feed gives up
    with pytest.raises(SlowConsumer, match="3 events"):
        await feed.next()


def test_a_market_moving_between_nodes_never_mixes_two_owners_books() -> None:
    """Frames as a cluster sends them: the old owner's epoch 1, the new owner's epoch 2
    opening with its snapshot and numbered anew, then the old owner's late frames."""
    epochs, tracker, mirror = Epochs(), GapTracker(), BookMirror("X.SPOT:A-B", 1)
    tracker.arm()

    def feed(event: dict[str, Any]) -> Verdict | None:
        if not epochs.current(event):
            return None
        verdict = tracker.check(event)
        if verdict is Verdict.APPLY:
            mirror.apply_event(event)
        return verdict

    assert feed(book(40, True, [["10", "1"]], [["11", "1"]], epoch=1)) is Verdict.APPLY
    assert feed(book(41, False, [["9", "2"]], [], epoch=1)) is Verdict.APPLY
    assert feed(book(1, True, [["20", "5"]], [["21", "6"]], epoch=2)) is Verdict.APPLY  # the new owner
    assert (tracker.epoch, tracker.sequence) == (2, 1)
    assert feed(book(42, False, [["9", "0"], ["8", "3"]], [], epoch=1)) is None  # the deposed owner, late
    assert feed(ev("trade", 43, epoch=1)) is None
    assert epochs.dropped == 2
    assert feed(book(2, False, [["19", "1"]], [], epoch=2)) is Verdict.APPLY
    assert mirror.synchronised and mirror.epoch == 2 and mirror.sequence == 2
    assert [(str(lv.price), str(lv.size)) for lv in mirror.bids] == [("20", "5"), ("19", "1")]
    assert [(str(lv.price), str(lv.size)) for lv in mirror.asks] == [("21", "6")]
    # An event without an epoch counts as epoch 0: older than 2.
    assert feed(ev("top", 3)) is None


def test_a_snapshot_repeating_the_last_sequence_replaces_the_book() -> None:
    """A node whose copy of a remote market was repaired sends the book again as of the
    last event: taken, and the numbers go on from it."""
    t, m = GapTracker(), BookMirror("X.SPOT:A-B", 1)
    t.arm()
    for event in (book(5, True, [["1", "1"]], [], epoch=3), book(6, False, [["2", "1"]], [], epoch=3)):
        assert t.check(event) is Verdict.APPLY
        m.apply_event(event)
    again = book(6, True, [["3", "1"]], [["4", "1"]], epoch=3)
    assert t.check(again) is Verdict.APPLY
    m.apply_event(again)
    assert [str(lv.price) for lv in m.bids] == ["3"] and m.synchronised
    assert t.check(ev("top", 7, epoch=3)) is Verdict.APPLY
    assert t.check(book(6, True, [], [], epoch=3)) is Verdict.GAP  # a snapshot behind the numbers is not
