"""The writer: rotation, retention, one writer per directory, and what a
full queue costs (the journal, never the caller)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from level4.journal.format import Begin, End, FileReport, Frames, Gap, Header, Opened, journal_files, read_file
from level4.journal.journal_replay import replay_journal
from level4.journal.options import JournalOptions
from level4.journal.writer import Journal, JournalUnavailable
from tests.journal.journal_helpers import TAG, coinbase_meta, snapshot, update
from tests.support import wait_for

ACTORS = {"exchange": "urn:e1", "mediator": "urn:m1", "orderbook": "urn:o1"}


def journal(tmp_path: Path, sweep_interval: float = 60.0, **options: Any) -> Journal:
    return Journal(JournalOptions(directory=tmp_path / "journal", **options), sweep_interval=sweep_interval)


def market_dir(tmp_path: Path) -> Path:
    return tmp_path / "journal" / "COINBASE.SPOT_BTC-USD"


def record_session(j: Journal, updates: int, pad: int = 0) -> list[tuple[float, str | bytes]]:
    """Begin, a connection with a snapshot and `updates` single-frame batches, end
    (as a market stops: the feed is cancelled, no close is reported)."""
    rec = j.market(coinbase_meta())
    rec.begin(ACTORS)
    rec.opened(5)
    sent: list[tuple[float, str | bytes]] = [(1.0, snapshot([["100", "1"]], [["101", "1"]]))]
    rec.frames(5, list(sent))
    for n in range(updates):
        batch: list[tuple[float, str | bytes]] = [(2.0 + n, update("buy", f"{99 - n % 50}", f"{n + 1}", pad))]
        rec.frames(5, batch)
        sent += batch
    rec.end()
    return sent


def read_all(directory: Path) -> list[Any]:
    return [record for path in journal_files(directory) for record in read_file(path)]


def test_files_rotate_by_size_each_says_what_it_holds_and_together_they_hold_everything(tmp_path: Path) -> None:
    j = journal(tmp_path, rotate_bytes=4096)
    sent = record_session(j, 300, pad=40)
    j.close()
    files = journal_files(market_dir(tmp_path))
    assert len(files) > 5
    assert [int(f.name[:8]) for f in files] == list(range(1, len(files) + 1))
    sizes = [f.stat().st_size for f in files]
    assert all(4096 <= s < 4096 + 400 for s in sizes[:-1])  # past the limit by less than one record
    for n, path in enumerate(files):
        header = next(read_file(path))
        assert isinstance(header, Header) and header.market["tag"] == TAG and header.run == j.run
        if n:  # opened mid-run: repeats what a replay starting here needs
            assert header.begin is not None and header.begin["actors"] == ACTORS and header.generation == 5
    records = [r for r in read_all(market_dir(tmp_path)) if not isinstance(r, Header)]
    assert [type(r) for r in records[:2]] == [Begin, Opened] and type(records[-1]) is End
    assert [f for r in records if isinstance(r, Frames) for f in r.batch] == sent
    assert j.frames_written == len(sent) and j.frames_dropped == 0

    result = replay_journal([tmp_path / "journal"])
    assert result.summary.frames == len(sent) and not result.damaged()
    book = result.books()[TAG]
    assert book["synchronised"] is True
    assert book["asks"] == [["101", "1"]] and len(book["bids"]) == 51  # 100 and the 50 prices updated


def test_retention_on_rotation_keeps_the_newest_files(tmp_path: Path) -> None:
    j = journal(tmp_path, rotate_bytes=4096, max_files=3)
    record_session(j, 300, pad=40)
    j.close()
    files = journal_files(market_dir(tmp_path))
    assert len(files) == 3 and int(files[0].name[:8]) > 3
    # A replay of what is left starts mid-connection: no snapshot, so no book presented as good.
    result = replay_journal([tmp_path / "journal"])
    assert result.summary.frames == sum(_count(f) for f in files)
    assert result.books()[TAG]["synchronised"] is False


def _count(path: Path) -> int:
    report = FileReport(path)
    list(read_file(path, report))
    return report.frames


def test_retention_by_bytes(tmp_path: Path) -> None:
    j = journal(tmp_path, rotate_bytes=4096, max_bytes=10_000)
    record_session(j, 300, pad=40)
    j.close()
    sizes = [f.stat().st_size for f in journal_files(market_dir(tmp_path))]
    assert len(sizes) >= 2 and sum(sizes[:-1]) <= 10_000 < sum(sizes[:-1]) + 4096 + 400


def test_retention_by_age_sweeps_markets_that_no_longer_run(tmp_path: Path) -> None:
    first = journal(tmp_path, rotate_bytes=4096)
    record_session(first, 100, pad=40)
    first.close()
    old = journal_files(market_dir(tmp_path))
    assert len(old) > 2
    long_ago = time.time() - 7200
    for path in old[:-1]:
        os.utime(path, (long_ago, long_ago))
    second = journal(tmp_path, max_age=3600, sweep_interval=0.05)
    try:
        assert journal_files(market_dir(tmp_path)) == old[-1:]  # swept when the journal opened
        os.utime(old[-1], (long_ago, long_ago))
        wait_for(lambda: not market_dir(tmp_path).exists() or not journal_files(market_dir(tmp_path)), timeout=5)
    finally:
        second.close()


def test_one_writer_per_directory_and_a_new_run_never_appends(tmp_path: Path) -> None:
    first = journal(tmp_path)
    with pytest.raises(JournalUnavailable, match="in use by another process"):
        journal(tmp_path)
    record_session(first, 3)
    first.close()
    (before,) = journal_files(market_dir(tmp_path))
    content = before.read_bytes()
    second = journal(tmp_path)
    record_session(second, 3)
    second.close()
    files = journal_files(market_dir(tmp_path))
    assert files[0] == before and files[0].read_bytes() == content and len(files) == 2
    assert second.run != first.run


def test_a_full_queue_drops_frames_records_the_gap_and_the_replayed_book_says_so(tmp_path: Path) -> None:
    j = journal(tmp_path, max_pending_bytes=2000)
    gate = threading.Event()
    handle = j._handle

    def stalled(item: Any) -> Any:  # a disk that does not keep up
        gate.wait(10)
        return handle(item)

    j._handle = stalled  # type: ignore[method-assign]
    rec = j.market(coinbase_meta())
    rec.begin(ACTORS)
    rec.opened(5)
    rec.frames(5, [(1.0, snapshot([["100", "1"]], [["101", "1"]]))])
    for n in range(40):
        rec.frames(5, [(2.0 + n, update("buy", "99", str(n + 1), pad=60))])
    dropped = j.frames_dropped
    assert 0 < dropped < 40
    gate.set()
    wait_for(lambda: j.released == j.accepted, what="queue drained")
    rec.frames(5, [(100.0, update("sell", "102", "1"))])
    rec.closed(5, "closed by venue")
    rec.end()
    j.close()
    records = read_all(market_dir(tmp_path))
    gaps = [r for r in records if isinstance(r, Gap)]
    assert [g.frames for g in gaps] == [dropped]
    after_gap = records[records.index(gaps[0]) + 1]
    assert isinstance(after_gap, Frames) and after_gap.batch[0][0] == 100.0  # the gap sits where the frames were
    assert j.frames_written == 1 + 40 - dropped + 1
    events: list[dict[str, Any]] = []
    book = replay_journal([tmp_path / "journal"], events.append).books()[TAG]
    statuses = [(e["status"], e["reason"]) for e in events if e["channel"] == "status"]
    gap = f"journal gap: {dropped} frames not recorded"
    # as a lost connection: the gap is announced, the book is not presented as good after it
    assert statuses[:4] == [("started", None), ("synchronised", None), ("reconnecting", gap), ("desynchronised", gap)]
    assert book["synchronised"] is False
