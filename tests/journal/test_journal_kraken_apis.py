"""Kraken spot journals replay with the API they were recorded with: v1 (meta
`api` "v1"), v2 (the first API, "") and, from before v2 was the first API, a
journal naming none whose URL is v1's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from level4.cli import main
from level4.journal.meta import market_meta
from level4.journal.options import JournalOptions
from level4.journal.writer import Journal
from level4.simulator.dialects.kraken_dialect import KrakenDialect
from level4.simulator.dialects.kraken_v2_dialect import KrakenV2Dialect
from translations import scheme_for
from translations.protocol import MarketType, Scheme

TAG = "KRAKEN.SPOT:BTC-USD"
BIDS = {"50000.0": "1.50000000"}
ASKS = {"50000.1": "0.25000000"}
NEW_BID = ("49999.9", "2.00000000")


def v1_frames() -> list[str]:
    asks = [[p, q, "1796603400.000000"] for p, q in ASKS.items()]
    bids = [[p, q, "1796603400.000000"] for p, q in BIDS.items()]
    after = dict(BIDS) | dict([NEW_BID])
    update = [0, {"b": [[*NEW_BID, "1796603401.000000"]], "c": str(KrakenDialect.checksum(ASKS, after))}]
    return [
        orjson.dumps([0, {"as": asks, "bs": bids}, "book-10", "XBT/USD"]).decode(),
        orjson.dumps([*update, "book-10", "XBT/USD"]).decode(),
    ]


def v2_frames() -> list[str]:
    def levels(side: dict[str, str]) -> list[dict[str, float]]:
        return [{"price": float(p), "qty": float(q)} for p, q in side.items()]

    pair = {"symbol": "BTC/USD", "base": "BTC", "quote": "USD", "price_precision": 1, "qty_precision": 8}
    after = dict(BIDS) | dict([NEW_BID])
    snap = {
        "symbol": "BTC/USD",
        "bids": levels(BIDS),
        "asks": levels(ASKS),
        "checksum": KrakenV2Dialect.checksum(ASKS, BIDS),
    }
    update = {
        "symbol": "BTC/USD",
        "bids": levels(dict([NEW_BID])),
        "asks": [],
        "checksum": KrakenV2Dialect.checksum(ASKS, after),
    }
    return [
        orjson.dumps({"channel": "instrument", "type": "snapshot", "data": {"assets": [], "pairs": [pair]}}).decode(),
        orjson.dumps({"channel": "book", "type": "snapshot", "data": [snap]}).decode(),
        orjson.dumps({"channel": "book", "type": "update", "data": [update]}).decode(),
    ]


def record(directory: Path, scheme: Scheme, ws_url: str, frames: list[str], api: str | None = None) -> None:
    instrument = scheme.instrument("BTC", "USD", MarketType.SPOT)
    meta = market_meta({"id": 1, "tag": TAG, "exchange": "KRAKEN"}, scheme, instrument, ws_url, "")
    if api is not None:
        meta["api"] = api  # as a journal written before the venue's APIs were named says it
    journal = Journal(JournalOptions(directory=directory))
    rec = journal.market(meta)
    rec.begin({"exchange": "urn:e", "mediator": "urn:m", "orderbook": "urn:o"})
    rec.opened(3)
    rec.frames(3, [(10.0 + n, f) for n, f in enumerate(frames)])
    rec.end()
    journal.close()


def replayed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    books = tmp_path / "books.json"
    assert main(["replay", "--format", "level4", str(tmp_path / "journal"), "--books-json", str(books)]) == 0
    out, _ = capsys.readouterr()
    return orjson.loads(out.strip().splitlines()[-1]), orjson.loads(books.read_bytes())[TAG]


@pytest.mark.parametrize(
    ("api", "ws_url", "frames", "meta_api"),
    [
        ("v1", "ws://127.0.0.1:1/", v1_frames, None),  # recorded with v1: its meta says so
        ("", "ws://127.0.0.1:1/", v2_frames, None),  # the live default
        ("v1", "wss://ws.kraken.com", v1_frames, ""),  # named none, spoke to v1's URL
    ],
)
def test_a_journal_replays_with_its_api(
    api: str, ws_url: str, frames: Any, meta_api: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record(tmp_path / "journal", scheme_for("KRAKEN", api), ws_url, frames(), meta_api)
    summary, book = replayed(tmp_path, capsys)
    assert summary["malformed"] == 0 and summary["checksums_verified"] >= 1 and summary["checksum_failures"] == 0
    assert book["synchronised"] is True
    assert book["bids"] == [["50000.0", "1.50000000"], list(NEW_BID)] and book["asks"] == [["50000.1", "0.25000000"]]
