"""The export benchmark times what it says: its journal replays whole, with
trades and a synchronised book, and its export fills every dataset."""

from __future__ import annotations

from pathlib import Path

from benchmarks.export_speed import write_journal
from level4.export.export_run import export_journal
from level4.journal.journal_replay import replay_journal


def test_the_benchmark_journal_is_real_work(tmp_path: Path) -> None:
    write_journal(tmp_path / "journal", 4_000)
    replayed = replay_journal([tmp_path / "journal"])
    summary = replayed.summary
    assert summary.frames == 4_001 and summary.malformed == 0 and summary.trades >= 4_000 // 20
    assert all(book["synchronised"] for book in replayed.books().values())
    result = export_journal([tmp_path / "journal"], tmp_path / "out")
    assert result.failed == {} and all(result.rows.values()), result.rows
    assert result.rows["trades"] == summary.trades
