"""Part `export`: `level4 export` over a synthetic Coinbase journal.

The journal holds the load generator's flow (changes near the top of a
200-level book, a trade every few frames), received 1,000 frames a second in
batches of 8. Reported: replay alone and export (replay included) in events
per second, each dataset's rows and its bytes per event published, and the
export's peak memory for two journal sizes (each export in a process of its
own), which stays flat when the journal grows: one journal file (8 MB here)
and the writers' buffers.

    .venv/bin/python -m benchmarks export [--quick]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import loadgen
from benchmarks.report import Table
from level4.journal.journal_replay import replay_journal
from level4.journal.meta import market_meta
from level4.journal.options import JournalOptions
from level4.journal.writer import Journal
from translations import scheme_for
from translations.protocol import MarketType

PER_SECOND = 1_000
ROTATE = 8 << 20
BATCH = 8


def unframe(frame: bytes) -> str:
    n = frame[1]
    return (frame[4:] if n == 126 else frame[10:] if n == 127 else frame[2:]).decode()


def write_journal(directory: Path, frames: int) -> None:
    scheme = scheme_for("COINBASE")
    instrument = scheme.instrument("BTC", "USD", MarketType.SPOT)
    meta = market_meta({"id": 1, "tag": "COINBASE.SPOT:BTC-USD"}, scheme, instrument, "ws://127.0.0.1:1/", "")
    # Files of 8 MB: the reader holds one file at a time (the service's default is 64 MB).
    journal = Journal(JournalOptions(directory=directory, rotate_bytes=ROTATE, max_pending_bytes=1 << 30))
    rec = journal.market(meta)
    rec.begin({"exchange": "e", "mediator": "m", "orderbook": "o"})
    rec.opened(1)
    start = time.time()  # receipt times from here on: after the start the journal records
    market = loadgen.Market("BTC-USD", seed=7)
    rec.frames(1, [(start, market.snapshot(start).decode())])
    n = 0
    while n < frames:
        at = start + (n + 1) / PER_SECOND
        rec.frames(1, [(at, unframe(f)) for f in market.frames(BATCH, loadgen.iso(at))])
        n += BATCH
        if n % 8192 == 0:
            time.sleep(0)  # let the writer thread drain
    rec.end()
    journal.close()


@dataclass
class Row:
    frames: int
    journal_bytes: int
    events: int
    replay_s: float
    export_s: float
    peak_rss_mb: float
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)


def _child(journal: Path, out: Path) -> None:
    """One export in this process: prints its result and the process's peak RSS."""
    from level4.export.export_run import export_journal

    result = export_journal([journal], out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    got = {"events": result.events, "seconds": result.seconds, "rows": result.rows, "bytes": result.bytes}
    print(json.dumps({**got, "rss": peak}))


def measure(frames: int) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        journal, out = Path(tmp) / "journal", Path(tmp) / "out"
        write_journal(journal, frames)
        size = sum(p.stat().st_size for p in journal.rglob("*.l4j"))
        started = time.perf_counter()
        replay_journal([journal])
        replay_s = time.perf_counter() - started
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.export_speed", "--child", str(journal), str(out)],
            capture_output=True,
            check=True,
            text=True,
        )
        got = json.loads(done.stdout.strip().splitlines()[-1])
        return Row(frames, size, got["events"], replay_s, got["seconds"], got["rss"], got["rows"], got["bytes"])


def run(quick: bool = False) -> list[Row]:
    sizes = [25_000, 100_000] if quick else [100_000, 400_000]
    return [measure(n) for n in sizes]


def table(rows: list[Row]) -> Table:
    t = Table(["frames", "journal MB", "events", "replay events/s", "export events/s", "peak RSS (MB)"])
    for r in rows:
        t.add(
            f"{r.frames:,}",
            f"{r.journal_bytes / 1e6:.1f}",
            f"{r.events:,}",
            f"{r.events / r.replay_s:,.0f}",
            f"{r.events / r.export_s:,.0f}",
            f"{r.peak_rss_mb:.0f}",
        )
    return t


def sizes_table(row: Row) -> Table:
    t = Table(["dataset", "rows", "bytes", "bytes per row", "bytes per event"])
    for name, rows in row.rows.items():
        size = row.bytes[name]
        t.add(name, f"{rows:,}", f"{size:,}", f"{size / max(rows, 1):.1f}", f"{size / max(row.events, 1):.2f}")
    return t


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        results = run(quick="--quick" in sys.argv)
        print(table(results).org())
        print()
        print(sizes_table(results[-1]).org())
