"""What level4.client's receive path costs per event: JSON parsing, the
sequence check and the mirror's update (Decimal levels in sorted ladders,
under the lock), as `StreamConnection.deliver` runs it for every message.

The events are synthetic but shaped as the service sends them: a snapshot
of N levels a side, then book deltas of one to three levels (changes,
removals, new levels) each followed, as a venue's flow does, by a top event
now and then and a trade more rarely. Best of several runs, in the
process's CPU time (on a shared machine, wall time counts the waits too).

    .venv/bin/python -m benchmarks.client_mirror [--levels 1000] [--events 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import random
import time

import orjson

from level4.client.book_mirror import BookMirror
from level4.client.reconnect_policy import ReconnectPolicy
from level4.client.service_rest import ServiceRest
from level4.client.stream_connection import StreamConnection
from level4.client.subscription_table import SubscriptionTable

TAG = "COINBASE.SPOT:BTC-USD"


def events(levels: int, count: int, seed: int = 1) -> list[str]:
    draw = random.Random(seed)
    tick = 0.01
    bids = {round(50_000 - (i + 1) * tick, 2) for i in range(levels)}
    asks = {round(50_000 + i * tick, 2) for i in range(levels)}
    base = {"market_id": 1, "market": TAG, "venue_time": 1.7e9, "received_at": 1.7e9}

    def level(price: float) -> list[str]:
        return [f"{price:.2f}", f"{draw.uniform(0.001, 5):.8f}"]

    out = [
        {
            **base,
            "channel": "book",
            "sequence": 1,
            "snapshot": True,
            "synchronised": True,
            "bids": [level(p) for p in sorted(bids, reverse=True)],
            "asks": [level(p) for p in sorted(asks)],
            "reason": None,
        }
    ]
    sequence = 1
    while len(out) < count:
        side, prices = ("bids", bids) if draw.random() < 0.5 else ("asks", asks)
        changed: list[list[str]] = []
        for _ in range(draw.randint(1, 3)):
            price = draw.choice(tuple(prices))
            roll = draw.random()
            if roll < 0.2 and len(prices) > levels // 2:
                prices.discard(price)
                changed.append([f"{price:.2f}", "0"])
            elif roll < 0.4:
                new = round(price + draw.choice((-1, 1)) * tick * draw.randint(1, 50), 2)
                if (side == "bids" and new < 50_000) or (side == "asks" and new >= 50_000):
                    prices.add(new)
                    changed.append(level(new))
            else:
                changed.append(level(price))
        sequence += 1
        delta = {"bids": changed, "asks": []} if side == "bids" else {"bids": [], "asks": changed}
        payload = {"snapshot": False, "synchronised": True, **delta, "reason": None}
        out.append({**base, "channel": "book", "sequence": sequence, **payload})
        if draw.random() < 0.3:
            sequence += 1
            best = [f"{max(bids):.2f}", "1.0"], [f"{min(asks):.2f}", "1.0"]
            top = {"bid": best[0], "ask": best[1], "spread": "0.01", "mid": "50000.005"}
            out.append({**base, "channel": "top", "sequence": sequence, **top})
        if draw.random() < 0.1:
            sequence += 1
            trade = {"side": "buy", "price": "50000.00", "size": "0.01", "trade_id": str(sequence)}
            out.append({**base, "channel": "trade", "sequence": sequence, **trade})
    return [orjson.dumps(e).decode() for e in out]


def run(raw: list[str]) -> tuple[float, BookMirror, StreamConnection]:
    table = SubscriptionTable()
    mirror = BookMirror(TAG, 1)
    table.mirrors[1] = mirror
    rest = ServiceRest("http://127.0.0.1:1", None, None, 1.0)  # never called here
    connection = StreamConnection("ws://127.0.0.1:1/stream", None, None, rest, table, ReconnectPolicy(), 1, 1)
    channels = ["book", "status", "top", "trade"]
    connection.deliver({"type": "subscribed", "markets": [{"id": 1, "market": TAG}], "pairs": [], "channels": channels})
    deliver, loads = connection.deliver, orjson.loads
    gc.collect()
    started = time.process_time()  # CPU time: the machine may be shared
    for message in raw:
        deliver(loads(message))
    return time.process_time() - started, mirror, connection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, default=1000, help="levels a side in the snapshot")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    raw = events(args.levels, args.events)
    best = float("inf")
    for _ in range(args.repeat):
        seconds, mirror, connection = run(raw)
        assert mirror.synchronised and connection.gaps == 0 and mirror.sequence == orjson.loads(raw[-1])["sequence"]
        best = min(best, seconds)
    books = sum(1 for r in raw if '"channel":"book"' in r)
    print(f"{'levels/side':>11} {'events':>8} {'book events':>11} {'µs/event':>9} {'events/s':>10}")
    print(f"{args.levels:>11} {len(raw):>8} {books:>11} {best / len(raw) * 1e6:>9.2f} {len(raw) / best:>10,.0f}")
    print(f"(first event: a snapshot of {args.levels} levels a side; best of {args.repeat}, CPU time)")


if __name__ == "__main__":
    main()
