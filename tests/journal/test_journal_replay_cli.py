"""`level4 replay --format level4`: what it prints and writes, and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from level4.cli import main
from level4.journal.options import JournalOptions
from level4.journal.writer import Journal
from tests.journal.journal_helpers import TAG, coinbase_meta, snapshot, update


def record_run(directory: Path, stop: bool = True) -> None:
    """One process run: a market starts, gets a snapshot, two updates and a trade-free stop."""
    journal = Journal(JournalOptions(directory=directory))
    rec = journal.market(coinbase_meta())
    rec.begin({"exchange": "urn:e", "mediator": "urn:m", "orderbook": "urn:o"})
    rec.opened(3)
    rec.frames(3, [(10.0, snapshot([["100", "1"]], [["101", "2"]])), (10.5, update("buy", "100.5", "3"))])
    rec.frames(3, [(11.0, update("sell", "101", "0"))])
    if stop:
        rec.end()
    journal.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any] | None, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (orjson.loads(lines[-1]) if lines else None), err


def test_books_events_and_the_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_run(tmp_path / "journal")
    books, events = tmp_path / "books.json", tmp_path / "events.jsonl"
    argv = ["--format", "level4", str(tmp_path / "journal"), "--books-json", str(books), "--events-jsonl", str(events)]
    code, summary, err = run(capsys, *argv)
    assert code == 0 and err == ""
    assert summary is not None
    assert {k: v for k, v in summary.items() if k != "seconds"} == {
        "frames": 3,
        "markets": 1,
        "trades": 0,
        "resyncs": 0,
        "malformed": 0,
        "ignored": 0,
        "checksums_verified": 0,
        "checksum_failures": 0,
        "unplaced": 0,  # a journal names its markets: nothing to place
        "off_tick": 0,
        "unsynchronised": [],
    }
    assert orjson.loads(books.read_bytes()) == {
        TAG: {"synchronised": True, "bids": [["100.5", "3"], ["100", "1"]], "asks": [], "reason": None}
    }
    published = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    assert [e["sequence"] for e in published] == list(range(1, len(published) + 1))
    assert [(e["channel"], e.get("status")) for e in published][:3] == [
        ("status", "started"),
        ("book", None),  # no snapshot yet
        ("status", "synchronised"),
    ]
    assert published[-2]["status"] == "stopped" and published[-1]["reason"] == "feed stopped"
    tops = [e for e in published if e["channel"] == "top"]
    assert [t["received_at"] for t in tops] == [10.5, 11.0]  # the receipt time of each batch's last frame


def test_each_run_numbers_from_one_and_a_killed_run_has_no_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_run(tmp_path / "journal", stop=False)  # killed: no end record
    record_run(tmp_path / "journal")
    events = tmp_path / "events.jsonl"
    code, summary, _ = run(capsys, "--format", "level4", str(tmp_path / "journal"), "--events-jsonl", str(events))
    assert code == 0 and summary is not None and summary["frames"] == 6
    published = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    starts = [n for n, e in enumerate(published) if e.get("status") == "started"]
    assert len(starts) == 2 and published[starts[1]]["sequence"] == 1
    assert [e.get("status") for e in published].count("stopped") == 1


def test_repeat_counts_every_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_run(tmp_path / "journal")
    code, summary, _ = run(capsys, "--format", "level4", "--repeat", "3", str(tmp_path / "journal"))
    assert code == 0 and summary is not None and summary["frames"] == 9 and summary["markets"] == 1


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "--format", "level4", str(tmp_path / "empty"))
    assert code == 2 and "no journal files" in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "00000001-x.l4j").write_bytes(b"something else entirely\n")
    code, _, err = run(capsys, "--format", "level4", str(tmp_path / "bad"))
    assert code == 2 and "not a level4 journal file" in err
    code, _, err = run(capsys, "--format", "level4", str(tmp_path / "missing"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, str(tmp_path / "empty"))
    assert code == 2 and "--venue is needed" in err
    code, _, err = run(capsys, "--venue", "COINBASE", "--events-jsonl", "x", str(tmp_path / "empty"))
    assert code == 2 and "--events-jsonl needs --format level4" in err
