"""kill -9 while the journal is being written: what is on disk replays
cleanly, and no more than the last record, the one being written, is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import orjson
import pytest

from level4.journal.format import FileReport, Frames, journal_files, read_file
from tests.service.test_end_to_end import free_port, start_serve
from tests.support import SimulatorThread, wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# A writer process on a disk that takes 4 KiB per write call, so a record
# takes many writes; after 2 MB it stalls inside a record (and says so) until
# it is killed. The frames number themselves.
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    from level4.journal.options import JournalOptions
    from level4.journal.writer import Journal
    from tests.journal.journal_helpers import coinbase_meta, snapshot, update

    real_write = os.write
    calls = 0

    def slow_write(fd, data):
        global calls
        calls += 1
        if calls == 500:
            Path(sys.argv[2]).touch()
            time.sleep(60)
        return real_write(fd, data[:4096])

    os.write = slow_write
    journal = Journal(JournalOptions(directory=Path(sys.argv[1])))
    rec = journal.market(coinbase_meta())
    rec.begin({"exchange": "e", "mediator": "m", "orderbook": "o"})
    rec.opened(1)
    rec.frames(1, [(0.0, snapshot([["100", "1"]], [["101", "1"]]))])
    n = 1
    while True:
        while journal.accepted - journal.released > 1_000_000:
            time.sleep(0.001)
        rec.frames(1, [(float(n), update("buy", "100", str(n), pad=100_000))])
        n += 1
    """
)


def test_a_writer_killed_mid_record_loses_that_record_only(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    stalled = tmp_path / "stalled"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(journal), str(stalled)], cwd=REPO, stderr=subprocess.DEVNULL
    )
    market = journal / "COINBASE.SPOT_BTC-USD"
    try:
        wait_for(stalled.exists, timeout=30, what="the writer inside a record")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    (path,) = journal_files(market)
    report = FileReport(path)
    batches = [r.batch for r in read_file(path, report) if isinstance(r, Frames)]
    assert report.torn and 0 < report.discarded < 100_000 + 200  # part of one frames record, no more
    sizes = [orjson.loads(raw)["changes"][0][2] for batch in batches[1:] for _, raw in batch]
    assert sizes == [str(n) for n in range(1, len(sizes) + 1)] and len(sizes) > 10  # every whole one, in order

    done = subprocess.run(
        [sys.executable, "-m", "level4", "replay", "--format", "level4", str(journal)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert b"an incomplete last record" in done.stderr
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["frames"] == len(sizes) + 1 and summary["unsynchronised"] == [] and summary["malformed"] == 0


def test_a_service_killed_while_recording_leaves_a_journal_that_replays_cleanly(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'l4.sqlite3'}"
    with SimulatorThread("coinbase", ["BTC-USD", "ETH-USD"], rate=1000) as sim:
        proc = start_serve(db_url, port, tmp_path, "--journal", str(journal), "--journal-rotate", "64K")
        try:
            api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
            for symbol in ("BTC", "ETH", "USD"):
                api.post("/symbols", json={"symbol": symbol})
            api.post("/exchanges", json={"name": "COINBASE", "ws_url": sim.url})
            for base in ("BTC", "ETH"):
                market = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": base, "quote_symbol": "USD"})
                api.patch(f"/markets/{market.json()['id']}", json={"level4_feed_enabled": True})
            wait_for(lambda: len(list(journal.rglob("*.l4j"))) >= 6, timeout=30, what="a few rotated files")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    reports: dict[Path, list[FileReport]] = {}
    frames = 0
    for market in sorted(p for p in journal.iterdir() if p.is_dir()):
        reports[market] = []
        for path in journal_files(market):
            report = FileReport(path)
            list(read_file(path, report))
            reports[market].append(report)
            frames += report.frames
    assert len(reports) == 2
    for market_reports in reports.values():
        assert all(r.discarded == 0 for r in market_reports[:-1])  # only a market's last file can be cut
        last = market_reports[-1]
        assert last.discarded == 0 or last.torn

    done = subprocess.run(
        [sys.executable, "-m", "level4", "replay", "--format", "level4", str(journal)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout.splitlines()[-1])
    assert summary["frames"] == frames > 0 and summary["markets"] == 2
    assert summary["unsynchronised"] == [] and summary["malformed"] == 0
