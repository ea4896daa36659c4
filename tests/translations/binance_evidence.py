"""The evidence Binance sessions carry about their books: bookTicker events.

bookTicker is pushed on every change of the best bid or ask, stamped with the
update id `u` after which it holds. So once a book has applied diffs up to
update id L, the session's last bookTicker with u <= L describes the book's
top at L (a top change in between would have its own ticker), price and size
exactly. Tickers usually arrive before the diff batch that contains their
update, so a comparison uses the whole session's tickers."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import orjson

from level4.replay.replayer import Replay


def book_tickers(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every bookTicker of the session per symbol, by update id."""
    out: dict[str, list[dict[str, Any]]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if "@bookTicker" in line and " <-> " not in line:
                data = orjson.loads(line.partition(": ")[2])["data"]
                out.setdefault(data["s"], []).append(data)
    for ticks in out.values():
        ticks.sort(key=lambda d: d["u"])
    return out


class TickerCheck:
    """A replay hook: every synchronised book state is compared with the ticker
    in force at its update id; a crossed book fails at once. `strict`: a
    disagreement fails at once too; otherwise it is listed in `disagreements`
    as (symbol, book update id, ticker u), for the test to name."""

    def __init__(self, path: Path, strict: bool = True) -> None:
        self.strict = strict
        self.disagreements: list[tuple[str, int, int]] = []
        self.tickers = book_tickers(path)
        self.ids = {sym: [t["u"] for t in ticks] for sym, ticks in self.tickers.items()}
        self.compared: dict[str, int] = {}
        self.exact = 0
        self._seen: set[tuple[str, int]] = set()

    def __call__(self, _t: float, _raw: str, rp: Replay) -> None:
        for sym, book in rp.keeper.books.items():
            assert not book.crossed(), sym
            if not book.synchronised or book.sequence is None or (sym, book.sequence) in self._seen:
                continue
            self._seen.add((sym, book.sequence))
            i = bisect.bisect_right(self.ids.get(sym, []), book.sequence) - 1
            if i < 0:
                continue
            tick = self.tickers[sym][i]
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            agrees = (bid[0], bid[1], ask[0], ask[1]) == (tick["b"], tick["B"], tick["a"], tick["A"])
            assert agrees or not self.strict, (tick, bid, ask)
            if not agrees:
                self.disagreements.append((sym, book.sequence, tick["u"]))
            self.compared[sym] = self.compared.get(sym, 0) + 1
            self.exact += tick["u"] == book.sequence
