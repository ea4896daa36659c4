"""Which node should run which market: spread by weight, a venue's markets kept
together, and as few moves as possible when a node joins or leaves.

Rendezvous (highest random weight) hashing picks, for every group of markets,
an order of preference over the nodes that depends only on the group and the
node's name, so a node joining or leaving moves only the groups whose first
choice it is or was. A group is a venue's markets in blocks (`group_size`):
markets sharing a venue connection stay on one node, where shared
connections pay, yet a venue with thousands of markets still spreads. Loads
are then bounded (consistent hashing with bounded loads): a node takes
groups in its preference order only while it carries less than
`(1 + slack)` times the average weight, so a busy market (its frame rate is
its weight) does not pile onto a node that already has its share.

Hysteresis: weights are measured frame rates and fluctuate, so a group
stays with the node that runs it (`current`) as long as that node's load,
counting the groups it keeps, stays within the cap plus a further `margin`;
a node running nothing else always keeps its group, however heavy. Only the
groups that do not fit are placed afresh (in rendezvous order, under the
cap), so markets move when an imbalance is real, not on every fluctuation,
and a node joining takes only what the others carry beyond their margin.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Placed:
    market_id: int
    venue: str
    weight: float  # e.g. frames a second, at least a small floor so idle markets still count


def _score(group: str, node: str) -> float:
    digest = hashlib.blake2b(f"{group}\0{node}".encode(), digest_size=8).digest()
    unit = (int.from_bytes(digest, "big") + 1) / 2**64  # in (0, 1]
    return -1.0 / math.log(unit) if unit < 1.0 else math.inf


def assign(
    markets: Sequence[Placed],
    nodes: Sequence[str],
    group_size: int = 200,
    slack: float = 0.25,
    current: Mapping[int, str] | None = None,
    margin: float = 0.25,
) -> dict[int, str]:
    """Market id -> node name, for live `nodes` (empty when there are none); `current` is
    the node running each market now, where known."""
    if not nodes:
        return {}
    groups: dict[str, list[Placed]] = defaultdict(list)
    by_venue: dict[str, list[Placed]] = defaultdict(list)
    for m in sorted(markets, key=lambda m: m.market_id):
        by_venue[m.venue].append(m)
    for venue, members in by_venue.items():
        for i in range(0, len(members), group_size):
            groups[f"{venue}/{i // group_size}"] = members[i : i + group_size]
    total = sum(max(m.weight, 0.0) for m in markets)
    cap = (1.0 + slack) * total / len(nodes)
    keep_cap = (1.0 + margin) * cap
    load: dict[str, float] = dict.fromkeys(nodes, 0.0)
    out: dict[int, str] = {}
    # Heaviest groups first, so the cap bends the placement of few, light ones.
    ordered = sorted(groups.items(), key=lambda kv: (-sum(m.weight for m in kv[1]), kv[0]))
    fresh: list[tuple[str, list[Placed]]] = []
    for name, members in ordered:
        weight = sum(m.weight for m in members)
        holder = _holder(members, current or {}, load)
        if holder is not None and (load[holder] == 0.0 or load[holder] + weight <= keep_cap):
            load[holder] += weight
            out.update(dict.fromkeys((m.market_id for m in members), holder))
        else:
            fresh.append((name, members))
    for name, members in fresh:
        weight = sum(m.weight for m in members)
        ranked = sorted(nodes, key=lambda n: _score(name, n), reverse=True)
        node = next((n for n in ranked if load[n] + weight <= cap), min(nodes, key=lambda n: load[n]))
        load[node] += weight
        out.update(dict.fromkeys((m.market_id for m in members), node))
    return out


def _holder(members: list[Placed], current: Mapping[int, str], live: Mapping[str, float]) -> str | None:
    """The live node that runs every running member of the group, if one does."""
    holders = {current[m.market_id] for m in members if m.market_id in current}
    if len(holders) != 1:
        return None
    holder = next(iter(holders))
    return holder if holder in live else None
