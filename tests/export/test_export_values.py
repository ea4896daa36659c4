"""`level4 export` on journals written by hand: exact decimals, a value too
wide for the scale, a journal still being written, the command's refusals."""

from __future__ import annotations

import itertools
import random
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl
import pytest

from level4.cli import main
from level4.export.export_run import export_journal
from level4.export.export_schema import ns_of
from level4.journal.journal_replay import replay_journal
from tests.export.journals import match, record, snapshot, tag, update

TINY, HUGE = "0.00000001", "123456789.123456789"


def export(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any] | None, str]:
    capsys.readouterr()  # what writing the journal logged
    code = main(["export", *argv])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (orjson.loads(lines[-1]) if lines else None), err


def rows(out: Path, dataset: str, where: str = "true", order: str = "sequence") -> list[dict[str, Any]]:
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{out / dataset}/**/*.parquet') WHERE {where} ORDER BY {order}")
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def test_prices_and_sizes_round_trip_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    record(
        journal,
        [
            [snapshot([[TINY, HUGE]], [[HUGE, TINY]])],
            [match(7, "sell", HUGE, TINY), update("buy", "0.00000002", "1.50")],
        ],
    )
    code, summary, err = export(capsys, str(journal), "--out", str(out))
    assert code == 0 and err == "", err
    assert summary is not None and summary["failed"] == [] and summary["rows"]["trades"] == 1

    trades = rows(out, "trades")
    assert [(t["price"], t["size"], t["side"], t["trade_id"]) for t in trades] == [
        (Decimal(HUGE), Decimal(TINY), "buy", "7")
    ]
    changes = rows(out, "book_changes", "side IS NOT NULL")
    assert [(c["side"], c["price"], c["size"], c["is_snapshot"]) for c in changes] == [
        ("bid", Decimal(TINY), Decimal(HUGE), True),
        ("ask", Decimal(HUGE), Decimal(TINY), True),
        ("bid", Decimal("0.00000002"), Decimal("1.5"), False),
    ]
    # The text DuckDB gives back is the value itself, padded to the scale.
    text = duckdb.sql(f"SELECT price::VARCHAR, size::VARCHAR FROM read_parquet('{out}/trades/**/*.parquet')").fetchall()
    assert text == [("123456789.123456789000000000", "0.000000010000000000")]
    # polars: the same decimals, the partition columns decoded to the exact tag.
    frame = pl.scan_parquet(out / "quotes", hive_partitioning=True).sort("sequence").collect()
    assert frame["market"].unique().to_list() == [tag()]
    assert frame.schema["bid_price"] == pl.Decimal(38, 18)
    first = frame.row(0, named=True)
    assert (first["bid_price"], first["bid_size"], first["ask_price"], first["ask_size"]) == (
        Decimal(TINY),
        Decimal(HUGE),
        Decimal(HUGE),
        Decimal(TINY),
    )


def test_a_value_the_scale_cannot_hold_stops_only_its_market(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    wide = "1.0000000000000000001"  # 19 decimals
    record(journal, [[snapshot([["100", "1"]], [["101", "1"]])], [update("buy", "100", wide)]])
    record(journal, [[snapshot([["10", "1"]], [["11", "2"]], "ETH")]], "ETH")
    code, summary, err = export(capsys, str(journal), "--out", str(out))
    assert code == 1 and summary is not None
    assert summary["failed"] == [tag()]
    assert f"{tag()}: not exported: size {wide!r} does not fit DECIMAL(38, 18)" in err
    assert "--scale between 19 and 37" in err
    # Nothing of the failed market is left; the other one is whole.
    markets = duckdb.sql(f"SELECT DISTINCT market FROM read_parquet('{out}/book_changes/**/*.parquet')").fetchall()
    assert markets == [(tag("ETH"),)]
    assert not list(out.rglob("*.tmp"))

    again = tmp_path / "again"
    code, summary, err = export(capsys, str(journal), "--out", str(again), "--scale", "19")
    assert code == 0, err
    sizes = duckdb.sql(
        f"SELECT size::VARCHAR FROM read_parquet('{again}/book_changes/**/*.parquet') WHERE NOT is_snapshot"
    ).fetchall()
    assert sizes == [(wide,)]


def test_a_journal_being_written_exports_up_to_its_last_whole_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    batches = [[snapshot([["100", "1"], ["99", "2"]], [["101", "1"]])]]
    batches += [[update("buy", f"{99 - n}", "3"), match(n + 1, "buy", "100", "0.5")] for n in range(20)]
    record(journal, batches)
    (path,) = journal.rglob("*.l4j")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the end record and part of the last batch not yet on disk
    published: list[dict[str, Any]] = []
    replayed = replay_journal([journal], published.append)
    assert replayed.damaged() and replayed.summary.trades == 19

    code, summary, err = export(capsys, str(journal), "--out", str(out))
    assert code == 0 and summary is not None
    assert "discarded" in err and "incomplete last record" in err
    trades = duckdb.sql(
        f"SELECT sequence, price, epoch_ns(received_at) FROM read_parquet('{out}/trades/**/*.parquet') ORDER BY 1"
    ).fetchall()
    assert trades == [
        (e["sequence"], Decimal(e["price"]), ns_of(e["received_at"])) for e in published if e["channel"] == "trade"
    ]
    assert len(trades) == 19
    sequences = {r["sequence"] for r in rows(out, "book_changes")}
    assert sequences == {e["sequence"] for e in published if e["channel"] == "book"}
    assert [q["sequence"] for q in rows(out, "quotes")] == [e["sequence"] for e in published if e["channel"] == "top"]


def test_times_are_the_nearest_nanosecond(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    times = record(journal, [[snapshot([["100", "1"]], [["101", "1"]])], [match(1, "buy", "100", "1")]])
    assert export(capsys, str(journal), "--out", str(out))[0] == 0
    got = pl.read_parquet(out / "trades", hive_partitioning=True)
    assert got.schema["received_at"] == pl.Datetime("ns", "UTC")
    assert got["received_at"].dt.epoch("ns").to_list() == [ns_of(times[1])]
    # The nearest nanosecond to the double exactly (the product by 1e9 alone would be off by up to 128 ns).
    rng = random.Random(5)
    for t in [1.5, 1764583200.123456789, *(rng.uniform(1.6e9, 1.9e9) for _ in range(10_000))]:
        assert ns_of(t) == round(Fraction(t) * 10**9), t


def test_book_snapshots_sample_the_book_rebuilt_from_its_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    batches = [[snapshot([["100", "1"], ["99", "2"], ["98", "1"]], [["101", "1"], ["102", "4"]])]]
    # bids from 98 to 100, asks from 101 to 103, sizes 0 (a removal), 1 or 2
    batches += [
        [update("buy", str(98 + n % 3), str(n % 3)), update("sell", str(101 + n % 3), str(n % 2))] for n in range(40)
    ]
    record(journal, batches, step=0.01)
    code, _, err = export(capsys, str(journal), "--out", str(out), "--interval", "25ms", "--depth", "2")
    assert code == 0, err
    changes = rows(out, "book_changes")
    samples = rows(out, "book_snapshots", order="timestamp, level")
    instants = sorted({s["timestamp"] for s in samples})
    assert len(instants) >= 15
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(instants)}
    assert steps == {0.025}
    assert sum(1 for s in samples if s["synchronised"] and s["level"] == 1) >= 10  # two levels, many times
    for instant in instants:
        taken = [s for s in samples if s["timestamp"] == instant]
        book = rebuild([c for c in changes if c["sequence"] <= taken[0]["sequence"]])
        if not taken[0]["synchronised"]:
            assert book is None and [s["level"] for s in taken] == [None]
            continue
        assert book is not None
        assert [(s["bid_price"], s["bid_size"]) for s in taken if s["bid_price"] is not None] == book["bids"][:2]
        assert [(s["ask_price"], s["ask_size"]) for s in taken if s["ask_price"] is not None] == book["asks"][:2]
        assert [s["level"] for s in taken] == list(range(len(taken)))


def rebuild(changes: list[dict[str, Any]]) -> dict[str, list[tuple[Decimal, Decimal]]] | None:
    """The book from book_changes rows, as README.org's Events section says; None when not synchronised."""
    sides: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "ask": {}}
    synchronised, snapshot_at = False, None
    for c in changes:
        if c["is_snapshot"] and c["sequence"] != snapshot_at:
            sides = {"bid": {}, "ask": {}}
            synchronised, snapshot_at = c["synchronised"], c["sequence"]
        if c["side"] is None:
            continue
        if c["size"] == 0:
            sides[c["side"]].pop(c["price"], None)
        else:
            sides[c["side"]][c["price"]] = c["size"]
    if not synchronised:
        return None
    return {
        "bids": sorted(sides["bid"].items(), reverse=True),
        "asks": sorted(sides["ask"].items()),
    }


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    record(journal, [[snapshot([["100", "1"]], [["101", "1"]])]])
    code, _, err = export(capsys, str(tmp_path / "missing"), "--out", str(out))
    assert code == 2 and "no such file or directory" in err
    (tmp_path / "empty").mkdir()
    code, _, err = export(capsys, str(tmp_path / "empty"), "--out", str(out))
    assert code == 2 and "no journal files" in err
    assert export(capsys, str(journal), "--out", str(out))[0] == 0
    code, _, err = export(capsys, str(journal), "--out", str(out))
    assert code == 2 and "is not empty" in err
    with pytest.raises(SystemExit):
        main(["export", str(journal), "--out", str(out), "--interval", "soon"])
    with pytest.raises(SystemExit):
        main(["export", str(journal), "--out", str(out), "--datasets", "trades,candles"])
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # not installed: importing it fails
    code, _, err = export(capsys, str(journal), "--out", str(tmp_path / "other"))
    assert code == 2 and "pip install 'level4[research]'" in err


def test_only_the_datasets_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    record(journal, [[snapshot([["100", "1"]], [["101", "1"]])], [match(1, "buy", "100", "1")]])
    code, summary, _ = export(capsys, str(journal), "--out", str(out), "--datasets", "trades,quotes")
    assert code == 0 and summary is not None and set(summary["rows"]) == {"trades", "quotes"}
    assert sorted(p.name for p in out.iterdir()) == ["quotes", "trades"]


def test_rows_go_to_the_utc_day_they_were_received(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    midnight = 1_764_547_200.0  # 2025-12-01T00:00:00Z
    batches = [[snapshot([["100", "1"]], [["101", "1"]])]]
    batches += [[match(n + 1, "buy", "100", "1")] for n in range(4)]
    record(journal, batches, start=midnight - 0.25, step=0.1)  # trades at -0.05, +0.05, +0.15, +0.25 s
    assert export(capsys, str(journal), "--out", str(out), "--datasets", "trades")[0] == 0
    days = duckdb.sql(
        f"SELECT date::VARCHAR, count(*) FROM read_parquet('{out}/trades/**/*.parquet') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert days == [("2025-11-30", 1), ("2025-12-01", 3)]
    parts = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert parts == [
        "trades/market=COINBASE.SPOT%3ABTC-USD/date=2025-11-30/part-0.parquet",
        "trades/market=COINBASE.SPOT%3ABTC-USD/date=2025-12-01/part-0.parquet",
    ]


def test_a_file_that_is_no_journal_stops_only_its_market(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    record(journal, [[snapshot([["100", "1"]], [["101", "1"]])]])
    record(journal, [[snapshot([["10", "1"]], [["11", "2"]], "ETH")]], "ETH")
    (eth,) = (journal / "COINBASE.SPOT_ETH-USD").glob("*.l4j")
    eth.write_bytes(b"something else entirely\n")
    code, summary, err = export(capsys, str(journal), "--out", str(out))
    assert code == 1 and summary is not None and summary["failed"] == [str(eth.parent)]
    assert "not a level4 journal file" in err
    markets = duckdb.sql(f"SELECT DISTINCT market FROM read_parquet('{out}/book_changes/**/*.parquet')").fetchall()
    assert markets == [(tag(),)]


def test_a_file_retention_removes_while_exporting_is_reported_and_the_rest_exported(tmp_path: Path) -> None:
    journal, out = tmp_path / "journal", tmp_path / "out"
    batches = [[snapshot([["100", "1"]], [["101", "1"]])], *([match(n + 1, "buy", "100", "1")] for n in range(200))]
    record(journal, batches, rotate_bytes=4096)
    files = sorted(journal.rglob("*.l4j"))
    assert len(files) >= 3

    def remove_the_last_file(_done: int, _events: int) -> None:
        files[-1].unlink(missing_ok=True)  # as retention may, once the export has begun

    result = export_journal([journal], out, progress=remove_the_last_file)
    assert result.vanished == [files[-1]] and result.failed == {}
    assert 0 < result.rows["trades"] < 200
