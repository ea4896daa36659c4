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
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
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
    markets: Sequence[Placed], nodes: Sequence[str], group_size: int = 200, slack: float = 0.25
) -> dict[int, str]:
    """Market id -> node name, for live `nodes` (empty when there are none)."""
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
    load: dict[str, float] = dict.fromkeys(nodes, 0.0)
    out: dict[int, str] = {}
    # Heaviest groups first, so the cap bends the placement of few, light ones.
    for name, members in sorted(groups.items(), key=lambda kv: (-sum(m.weight for m in kv[1]), kv[0])):
        weight = sum(m.weight for m in members)
        ranked = sorted(nodes, key=lambda n: _score(name, n), reverse=True)
        node = next((n for n in ranked if load[n] + weight <= cap), min(nodes, key=lambda n: load[n]))
        load[node] += weight
        for m in members:
            out[m.market_id] = node
    return out
