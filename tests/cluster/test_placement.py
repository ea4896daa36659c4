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
