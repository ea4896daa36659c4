"""Placement: even by weight, a venue's markets together, few moves on change."""

from __future__ import annotations

from collections import Counter

from level4.cluster.placement import Placed, assign

NODES = ["n1", "n2", "n3"]


def markets(n: int, venues: tuple[str, ...] = ("BINANCE", "COINBASE", "KRAKEN", "OKX")) -> list[Placed]:
    return [Placed(i, venues[i % len(venues)], 1.0) for i in range(n)]


def test_every_market_is_placed_on_a_live_node_and_loads_are_bounded() -> None:
    ms = markets(3000)
    out = assign(ms, NODES, group_size=100)
    assert set(out) == {m.market_id for m in ms} and set(out.values()) <= set(NODES)
    load = Counter(out.values())
    assert max(load.values()) <= 1.25 * 3000 / 3 + 100  # within the slack, give or take a group


def test_a_venues_markets_stay_together_in_groups() -> None:
    ms = markets(800)
    out = assign(ms, NODES, group_size=200)
    per_venue = {v: {out[m.market_id] for m in ms if m.venue == v} for v in ("BINANCE", "OKX")}
    assert all(len(nodes) == 1 for nodes in per_venue.values())  # 200 markets each: one group, one node


def test_a_node_leaving_moves_only_its_own_markets() -> None:
    ms = markets(2000)
    before = assign(ms, NODES, group_size=50, slack=1.0)
    after = assign(ms, ["n1", "n3"], group_size=50, slack=1.0)
    moved = [m for m in before if before[m] != after[m]]
    assert moved and all(before[m] == "n2" for m in moved)


def test_a_busy_market_counts_by_its_weight() -> None:
    ms = [Placed(0, "BINANCE", 100.0)] + [Placed(i, "COINBASE", 1.0) for i in range(1, 201)]
    out = assign(ms, ["n1", "n2"], group_size=1)
    busy = out[0]
    assert Counter(out.values())[busy] < 100  # the node with the busy market takes few others


def test_no_nodes_no_placement() -> None:
    assert assign(markets(5), []) == {}


def test_a_heavy_market_has_a_node_to_itself_and_the_light_ones_share_the_other() -> None:
    ms = [Placed(0, "COINBASE", 300.0)] + [Placed(i, "KRAKEN", 5.0) for i in range(1, 5)]
    # Placed by count, as before any weight was known: three and two.
    by_count = {0: "a", 1: "a", 2: "a", 3: "b", 4: "b"}
    out = assign(ms, ["a", "b"], group_size=1, current=by_count)
    heavy = out[0]
    assert [m for m, n in out.items() if n == heavy] == [0]
    assert sorted(m for m, n in out.items() if n != heavy) == [1, 2, 3, 4]


def test_weights_that_fluctuate_within_the_margin_move_nothing() -> None:
    ms = [Placed(i, "COINBASE", 10.0) for i in range(12)]
    before = {m.market_id: NODES[m.market_id % 3] for m in ms}  # four markets each
    # One node's markets grow busier by 60 %: its load over the cap, within the margin beyond it.
    busier = "n2"
    shaken = [Placed(m.market_id, m.venue, 16.0 if before[m.market_id] == busier else 10.0) for m in ms]
    assert assign(shaken, NODES, group_size=1, current=before) == before
    # Without hysteresis the same weights move markets.
    assert assign(shaken, NODES, group_size=1) != before


def test_a_real_imbalance_moves_only_what_is_beyond_the_margin() -> None:
    ms = [Placed(i, "COINBASE", 10.0) for i in range(12)]
    before = {m.market_id: NODES[m.market_id % 3] for m in ms}  # four markets each
    busier = "n1"
    # That node's markets now carry three times the others' rate: it keeps only what fits.
    hot = [Placed(m.market_id, m.venue, 30.0 if before[m.market_id] == busier else 10.0) for m in ms]
    after = assign(hot, NODES, group_size=1, current=before)
    moved = [m for m in before if before[m] != after[m]]
    assert len(moved) == 1 and before[moved[0]] == busier  # only the overloaded node gives up a market
    total = sum(m.weight for m in hot)
    load = {n: sum(m.weight for m in hot if after[m.market_id] == n) for n in NODES}
    assert max(load.values()) <= 1.25 * 1.25 * total / 3


def test_a_node_joining_takes_only_what_the_others_carry_beyond_their_margin() -> None:
    ms = [Placed(i, "COINBASE", 1.0) for i in range(6)]
    two = assign(ms, ["n1", "n2"], group_size=2)
    three = assign(ms, NODES, group_size=2, current=two)
    moved = [m for m in two if two[m] != three[m]]
    assert sorted(Counter(three.values()).values()) == [2, 2, 2]
    assert len(moved) == 2 and all(three[m] == "n3" for m in moved)
