"""The claim of the export: for journals the service recorded from every
simulator dialect, the Parquet datasets are the replayed events row for row and
rebuild the replay's books, read back with DuckDB and with polars."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import polars as pl
import pytest

from level4.cli import main
from level4.export.export_schema import ns_of
from level4.journal.journal_replay import replay_journal
from level4.journal.options import JournalOptions
from tests.simulator.test_end_to_end_derivatives import CASES
from tests.simulator.test_end_to_end_venues import VENUES
from tests.support import SimulatorThread, running_service, wait_for
from translations.protocol import MarketType

pytestmark = pytest.mark.slow

Book = dict[str, dict[Decimal, Decimal]]


# One service per group: an exchange has one endpoint override, so a venue's spot and
# derivative APIs (each its own simulator dialect) need services of their own.
GROUPS: dict[str, dict[str, tuple[str, str, str]]] = {
    "spot-and-more": {venue: (base, quote, kind) for venue, (base, quote, kind, _depth) in VENUES.items()},
    **CASES,
}


def record(journal: Path, venues: dict[str, tuple[str, str, str]], seconds: float) -> None:
    """A service with one market on each venue's simulator, journaling, for `seconds` once all are live."""
    with ExitStack() as stack:
        sims = {
            venue: stack.enter_context(
                SimulatorThread(venue, [f"{base}-{quote}"], rate=150, seed=3, market_type=MarketType(kind))
            )
            for venue, (base, quote, kind) in venues.items()
        }
        options = JournalOptions(directory=journal, rotate_bytes=64 * 1024)  # several files per market
        db = f"sqlite:///{journal.parent / (journal.name + '.sqlite3')}"
        _service, url = stack.enter_context(running_service(db, journal=options))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        for symbol in {s for base, quote, _ in venues.values() for s in (base, quote)}:
            api.post("/symbols", json={"symbol": symbol})
        ids = []
        for venue, (base, quote, kind) in venues.items():
            sim = sims[venue]
            api.post("/exchanges", json={"name": venue, "ws_url": sim.url, "rest_url": sim.http})
            body = {"exchange": venue, "base_symbol": base, "quote_symbol": quote, "market_type": kind}
            ids.append(api.post("/markets", json=body).json()["id"])
            api.patch(f"/markets/{ids[-1]}", json={"level4_feed_enabled": True})
        wait_for(
            lambda: all(api.get(f"/markets/{i}").json()["status"] == "live" for i in ids),
            timeout=30,
            what="every venue live",
        )
        time.sleep(seconds)


def record_every_dialect(tmp_path: Path, seconds: float) -> list[Path]:
    """Journals of every simulator dialect: the 13 venues, Binance's USD-M and COIN-M and Kraken's futures."""
    journals = []
    for name, venues in GROUPS.items():
        journals.append(tmp_path / name)
        record(journals[-1], venues, seconds)
    return journals


def rebuild(book: Book, row: dict[str, Any], snapshot_seen: set[int]) -> None:
    """One book_changes row into the book, as README.org's Events section says."""
    if row["is_snapshot"] and row["sequence"] not in snapshot_seen:
        snapshot_seen.add(row["sequence"])
        book["bid"], book["ask"] = {}, {}
    if row["side"] is None:
        return
    if row["size"] == 0:
        book[row["side"]].pop(row["price"], None)
    else:
        book[row["side"]][row["price"]] = row["size"]


def levels(side: dict[Decimal, Decimal], best_first_desc: bool) -> list[tuple[Decimal, Decimal]]:
    return sorted(side.items(), reverse=best_first_desc)


def test_every_venue_exports_the_replayed_events_and_books(tmp_path: Path) -> None:
    journals = record_every_dialect(tmp_path, seconds=3.0)
    recorded_until = time.time_ns()
    replayed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    result = replay_journal(journals, lambda ev: replayed[ev["market"]].append(ev))
    books = result.books()
    assert len(books) == sum(len(venues) for venues in GROUPS.values()) == len(VENUES) + 3

    out = tmp_path / "out"
    assert main(["export", *map(str, journals), "--out", str(out), "--depth", "10"]) == 0

    # trades, with DuckDB: every replayed trade event, field for field
    con = duckdb.connect()
    got = con.sql(
        f"SELECT market, sequence, trade_id, side, price, size, epoch_ns(venue_time), epoch_ns(received_at)"
        f" FROM read_parquet('{out}/trades/**/*.parquet', hive_partitioning = true) ORDER BY market, sequence"
    ).fetchall()
    want = sorted(
        (
            tag,
            e["sequence"],
            e["trade_id"],
            e["side"] or None,
            Decimal(e["price"]),
            Decimal(e["size"]),
            None if e["venue_time"] is None else ns_of(e["venue_time"]),
            ns_of(e["received_at"]),
        )
        for tag, events in replayed.items()
        for e in events
        if e["channel"] == "trade"
    )
    assert got == want
    assert {row[0] for row in got} == set(books)  # every venue's simulator trades

    # quotes, with DuckDB: every top event
    got_quotes = con.sql(
        f"SELECT market, sequence, bid_price, bid_size, ask_price, ask_size"
        f" FROM read_parquet('{out}/quotes/**/*.parquet', hive_partitioning = true) ORDER BY market, sequence"
    ).fetchall()

    def dec(level: list[str] | None, i: int) -> Decimal | None:
        return None if level is None else Decimal(level[i])

    want_quotes = sorted(
        (tag, e["sequence"], dec(e["bid"], 0), dec(e["bid"], 1), dec(e["ask"], 0), dec(e["ask"], 1))
        for tag, events in replayed.items()
        for e in events
        if e["channel"] == "top"
    )
    assert got_quotes == want_quotes

    # book_changes, with DuckDB: every level of every replayed book event
    got_changes = con.sql(
        f"SELECT market, sequence, is_snapshot, synchronised, reason, side, price, size, epoch_ns(venue_time)"
        f" FROM read_parquet('{out}/book_changes/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    want_changes = []
    for tag, events in replayed.items():
        for e in (e for e in events if e["channel"] == "book"):
            head = (tag, e["sequence"], e["snapshot"], e["synchronised"], e["reason"])
            vt = None if e["venue_time"] is None else ns_of(e["venue_time"])
            levels_of = [(s, lv) for s, key in (("bid", "bids"), ("ask", "asks")) for lv in e[key]]
            if not levels_of:
                want_changes.append((*head, None, None, None, vt))
            for side, lv in levels_of:
                want_changes.append((*head, side, Decimal(lv[0]), Decimal(lv[1]), vt))
    assert sorted(got_changes, key=repr) == sorted(want_changes, key=repr)

    # No row carries the export's clock: events the actors stamp with one (started, REST
    # snapshots) take the time of the journal record that caused them.
    for dataset, column in (("trades", "received_at"), ("book_changes", "received_at"), ("quotes", "received_at")):
        ((latest,),) = con.sql(
            f"SELECT max(epoch_ns({column})) FROM read_parquet('{out}/{dataset}/**/*.parquet')"
        ).fetchall()
        assert latest is not None and latest < recorded_until, dataset

    # book_changes and book_snapshots, with polars: the book rebuilt from the changes is the
    # replay's final book, and every sample is the rebuilt book's top at its sequence.
    changes = pl.scan_parquet(out / "book_changes", hive_partitioning=True)
    samples = pl.scan_parquet(out / "book_snapshots", hive_partitioning=True)
    for tag in books:
        rows = changes.filter(pl.col("market") == tag).sort("sequence", maintain_order=True).collect()
        assert sorted(set(rows["sequence"])) == [e["sequence"] for e in replayed[tag] if e["channel"] == "book"]
        # order counts where the venue gives them (Bitfinex), null elsewhere
        orders = rows.filter(pl.col("side").is_not_null())["orders"]
        assert orders.null_count() == (0 if tag.startswith("BITFINEX") else len(orders)), tag
        taken = samples.filter(pl.col("market") == tag).sort("timestamp", "level", nulls_last=False).collect()
        by_instant: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for s in taken.iter_rows(named=True):
            by_instant[s["timestamp"]].append(s)
        instants = sorted(by_instant.items(), key=lambda kv: kv[1][0]["sequence"])
        book: Book = {"bid": {}, "ask": {}}
        seen: set[int] = set()
        synchronised = False
        checked = 0
        pending = list(instants)
        for row in rows.iter_rows(named=True):
            while pending and pending[0][1][0]["sequence"] < row["sequence"]:
                check_sample(pending.pop(0)[1], book, synchronised)
                checked += 1
            rebuild(book, row, seen)
            if row["is_snapshot"]:
                synchronised = row["synchronised"]
        for _, sample in pending:
            check_sample(sample, book, synchronised)
            checked += 1
        assert checked == len(by_instant) >= 3, tag
        assert synchronised is False, tag  # the service stopped: the last snapshot says so
    # The replay's final book (its orderbook's when the tree stopped), against the book
    # rebuilt from the changes before the stop.
    for tag, good in books.items():
        rows = (
            changes.filter((pl.col("market") == tag) & (pl.col("sequence") < stop_sequence(replayed[tag])))
            .sort("sequence", maintain_order=True)
            .collect()
        )
        book = {"bid": {}, "ask": {}}
        seen = set()
        for row in rows.iter_rows(named=True):
            rebuild(book, row, seen)
        assert good["synchronised"], tag
        want_bids = [(Decimal(lv[0]), Decimal(lv[1])) for lv in good["bids"]]
        want_asks = [(Decimal(lv[0]), Decimal(lv[1])) for lv in good["asks"]]
        assert levels(book["bid"], True) == want_bids and levels(book["ask"], False) == want_asks, tag
        assert want_bids and want_asks, tag


def check_sample(sample: list[dict[str, Any]], book: Book, synchronised: bool) -> None:
    first = sample[0]
    assert first["synchronised"] == synchronised, first
    if not synchronised or (not book["bid"] and not book["ask"]):
        assert [s["level"] for s in sample] == [None], sample
        return
    depth = 10
    bids, asks = levels(book["bid"], True)[:depth], levels(book["ask"], False)[:depth]
    assert [s["level"] for s in sample] == list(range(max(len(bids), len(asks))))
    assert [(s["bid_price"], s["bid_size"]) for s in sample if s["bid_price"] is not None] == bids
    assert [(s["ask_price"], s["ask_size"]) for s in sample if s["ask_price"] is not None] == asks


def stop_sequence(events: list[dict[str, Any]]) -> int:
    return next(e["sequence"] for e in events if e["channel"] == "status" and e["status"] == "stopped")
