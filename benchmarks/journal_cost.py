"""What recording costs per frame: on the IO loop (the hot path: a queue put
and a size count), on the writer thread (encode, CRC, write), and replaying.

    .venv/bin/python benchmarks/journal_cost.py [FRAMES]

Frames are realistic venue diffs (a Coinbase l2update of ~150 bytes, a
Binance depth diff of ~600); batches of 1 (a quiet feed: one frame per loop
turn) and of 16 (a busy one). The IO-loop figure is timed on the calling
thread while the writer runs, so it includes sharing the interpreter with it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pykka

from level4.journal.journal_replay import replay_journal
from level4.journal.meta import market_meta
from level4.journal.options import JournalOptions
from level4.journal.writer import Journal
from translations import scheme_for
from translations.protocol import MarketType

COINBASE = orjson.dumps(
    {
        "type": "l2update",
        "product_id": "BTC-USD",
        "changes": [["buy", "50123.45", "0.12345678"]],
        "time": "2024-01-01T00:00:00.123456Z",
    }
).decode()
BINANCE = orjson.dumps(
    {
        "e": "depthUpdate",
        "E": 1704067200123,
        "s": "BTCUSDT",
        "U": 4000000001,
        "u": 4000000012,
        "b": [[f"4{n:04d}.10", "0.25000000"] for n in range(6)],
        "a": [[f"4{n:04d}.20", "1.50000000"] for n in range(6)],
    }
).decode()


def meta() -> dict[str, object]:
    scheme = scheme_for("COINBASE")
    instrument = scheme.instrument("BTC", "USD", MarketType.SPOT)
    return market_meta({"id": 1, "tag": "COINBASE.SPOT:BTC-USD"}, scheme, instrument, "ws://127.0.0.1:1/", "")


def run(label: str, frame: str, batch_size: int, frames: int) -> None:
    best: tuple[float, float, float, int, float] | None = None
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            journal = Journal(JournalOptions(directory=Path(tmp), max_pending_bytes=1 << 30))
            rec = journal.market(meta())
            rec.begin({"exchange": "e", "mediator": "m", "orderbook": "o"})
            rec.opened(1)
            batches = [[(time.time(), frame) for _ in range(batch_size)] for _ in range(frames // batch_size)]
            put = rec.frames
            cpu0, wall0, thread0 = time.process_time(), time.perf_counter(), time.thread_time()
            for batch in batches:
                put(1, batch)
            producer = time.thread_time() - thread0  # the IO loop's own work: CPU of this thread
            rec.end()
            journal.close()
            wall = time.perf_counter() - wall0
            writer = time.process_time() - cpu0 - producer  # everything else the process did meanwhile
            n = len(batches) * batch_size
            assert journal.frames_written == n and journal.frames_dropped == 0
            size = sum(p.stat().st_size for p in Path(tmp).rglob("*.l4j"))
            replayed = replay_journal([Path(tmp)])
            row = (producer / n, writer / n, n / wall, size, replayed.summary.frames / replayed.summary.seconds)
            if best is None or row[0] + row[1] < best[0] + best[1]:
                best = row
    assert best is not None
    producer_ns, writer_ns, rate, size, replay_rate = best
    n = frames // batch_size * batch_size
    print(
        f"{label:<9} {len(frame):>4} B/frame  batch {batch_size:>2}  "
        f"IO loop {producer_ns * 1e9:5.0f} ns/frame  writer {writer_ns * 1e9:5.0f} ns/frame  "
        f"sustained {rate:>9,.0f} frames/s  disk {size / n:4.0f} B/frame  replay {replay_rate:>7,.0f} frames/s"
    )


def baseline(frames: int) -> None:
    """For scale: a bare deque append of the same tuple, and the relay's tell to the mediator."""
    from collections import deque

    from level4.market.messages import Frames

    q: deque[object] = deque()
    batch = [(time.time(), COINBASE)]
    t0 = time.thread_time()
    for _ in range(frames):
        q.append((None, b"F", 1, batch, 0))
    append = (time.thread_time() - t0) / frames
    t0 = time.thread_time()
    for _ in range(frames):
        q.append(Frames(1, batch))
    message = (time.thread_time() - t0) / frames
    sink = pykka.ThreadingActor.start()  # what the relay does per batch anyway: tell the mediator
    t0 = time.thread_time()
    for _ in range(frames):
        sink.tell(Frames(1, batch))
    tell = (time.thread_time() - t0) / frames
    sink.stop()
    print(
        f"for scale, per call on this thread: deque append {append * 1e9:.0f} ns, "
        f"Frames message {message * 1e9:.0f} ns, pykka tell of it {tell * 1e9:.0f} ns"
    )


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    load = os.getloadavg()[0]
    print(f"{frames} frames per row, best of 3 (CPU time); python {sys.version.split()[0]}; load {load:.1f}")
    baseline(frames)
    for label, frame in (("coinbase", COINBASE), ("binance", BINANCE)):
        for batch_size in (1, 16):
            run(label, frame, batch_size, frames)


if __name__ == "__main__":
    main()
