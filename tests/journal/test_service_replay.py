"""The claim of the journal: a run of the service, replayed, gives the books it
served and the events it published, number for number."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import translations
from level4.journal.format import FileReport, Frames, read_file
from level4.journal.options import JournalOptions
from level4.market.messages import Crash, DoReconnect
from tests.simulator.test_end_to_end_venues import VENUES
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

REPLAY = [sys.executable, "-m", "level4", "replay", "--format", "level4"]


def by_market(events: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        out[event["market_id"]].append(orjson.loads(orjson.dumps(event)))  # as consumers see them: JSON
    return out


def caught_up(book: dict[str, Any], reference: dict[str, Any], depth: int | None) -> bool:
    """By value (venues sending JSON numbers drop trailing zeros), to the depth the venue shows."""
    if not book["synchronised"]:
        return False
    return all(
        [(Decimal(lv[0]), Decimal(lv[1])) for lv in book[side][:depth]]
        == [(Decimal(lv[0]), Decimal(lv[1])) for lv in reference[side][:depth]]
        for side in ("bids", "asks")
    )


def receipt_times(journal: Path) -> set[float]:
    return {t for path in journal.rglob("*.l4j") for r in read_file(path) if isinstance(r, Frames) for t, _ in r.batch}


def test_a_journal_of_every_venue_replays_to_the_books_served_and_the_events_published(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    published: list[dict[str, Any]] = []
    with ExitStack() as stack:
        sims = {
            venue: stack.enter_context(
                SimulatorThread(
                    venue, [f"{base}-{quote}"], rate=100, seed=11, market_type=translations.protocol.MarketType(kind)
                )
            )
            for venue, (base, quote, kind, _depth) in VENUES.items()
        }
        options = JournalOptions(directory=journal, rotate_bytes=16 * 1024)  # several files per market
        service, url = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}", journal=options))
        service.hub.subscribe(published.append)
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        for symbol in ("BTC", "USD", "USDT", "JPY"):
            api.post("/symbols", json={"symbol": symbol})
        ids: dict[str, int] = {}
        for venue, (base, quote, kind, _depth) in VENUES.items():
            sim = sims[venue]
            api.post("/exchanges", json={"name": venue, "ws_url": sim.url, "rest_url": sim.http})
            body = {"exchange": venue, "base_symbol": base, "quote_symbol": quote, "market_type": kind}
            ids[venue] = api.post("/markets", json=body).json()["id"]
            api.patch(f"/markets/{ids[venue]}", json={"level4_feed_enabled": True})

        def all_live() -> bool:
            return all(api.get(f"/markets/{i}").json()["status"] == "live" for i in ids.values())

        wait_for(all_live, timeout=30, what="every venue live")
        time.sleep(0.5)
        # What the journal must also carry: a new connection (with a new REST snapshot),
        # a restarted connection actor, and a market switched off and on.
        service.registry.tell(ids["BINANCE"], "websocket", DoReconnect("reconnect asked by the test"))
        service.registry.tell(ids["COINBASE"], "websocket", Crash("crash asked by the test"))
        api.patch(f"/markets/{ids['KRAKEN']}", json={"level4_feed_enabled": False})
        api.patch(f"/markets/{ids['KRAKEN']}", json={"level4_feed_enabled": True})
        wait_for(lambda: service.board.get(ids["BINANCE"]).reconnects >= 1, what="binance reconnected")
        wait_for(lambda: service.board.get(ids["COINBASE"]).restarts >= 1, what="coinbase websocket restarted")
        wait_for(all_live, timeout=30, what="every venue live again")
        time.sleep(0.5)

        for sim in sims.values():
            sim.pause()
        for venue, (base, quote, _kind, depth) in VENUES.items():
            reference = sims[venue].reference(f"{base}-{quote}")
            wait_for(
                lambda v=venue, ref=reference, d=depth: caught_up(api.get(f"/markets/{ids[v]}/book").json(), ref, d),
                what=f"{venue} caught up",
            )
        served = {api.get(f"/markets/{i}").json()["tag"]: api.get(f"/markets/{i}/book").json() for i in ids.values()}
    # The service has stopped: every market's tree stopped and the journal is closed.
    live = by_market(published)

    books_json, events_jsonl = tmp_path / "books.json", tmp_path / "events.jsonl"
    done = subprocess.run(
        [*REPLAY, str(journal), "--books-json", str(books_json), "--events-jsonl", str(events_jsonl)],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # no torn or damaged file to report
    summary = orjson.loads(done.stdout.splitlines()[-1])
    files = list(journal.rglob("*.l4j"))
    assert len(files) > 2 * len(VENUES)  # rotated
    frames = 0
    for path in files:
        report = FileReport(path)
        list(read_file(path, report))
        frames += report.frames
    assert summary["frames"] == frames > 0
    assert summary["markets"] == len(VENUES) and summary["unsynchronised"] == [] and summary["malformed"] == 0

    books = orjson.loads(books_json.read_bytes())
    assert set(books) == set(served)
    for tag, book in served.items():
        assert book["synchronised"] is True
        assert books[tag] == {k: v for k, v in book.items() if k != "market"}, tag

    replayed = by_market([orjson.loads(line) for line in events_jsonl.read_bytes().splitlines()])
    assert set(replayed) == set(live) == set(ids.values())
    received = receipt_times(journal)
    for market_id, events in live.items():
        again = replayed[market_id]
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
        assert [e["sequence"] for e in again] == [e["sequence"] for e in events], market_id
        for one, other in zip(events, again, strict=True):
            # Events a frame caused carry its receipt time; the others (started,
            # stopped, reconnecting, REST answers) the clock of whoever ran them.
            if one["received_at"] in received:
                assert other["received_at"] == one["received_at"], one
            assert {**other, "received_at": None} == {**one, "received_at": None}, (market_id, one["sequence"])
    channels = {e["channel"] for events in live.values() for e in events}
    assert channels == {"status", "book", "top", "trade"}
    statuses = {e["status"] for e in live[ids["KRAKEN"]] if e["channel"] == "status"}
    assert {"started", "stopped", "synchronised"} <= statuses
    assert any(e.get("status") == "reconnecting" for e in live[ids["BINANCE"]])
