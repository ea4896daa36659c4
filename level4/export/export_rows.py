"""Published events into the datasets' rows: `trade` events into `trades`,
`book` into `book_changes` (and the sampled book), `top` into `quotes`.

Rows are partitioned by the UTC date of their receipt time (`timestamp` for
the samples): a day's partition holds what arrived that day.
"""

from __future__ import annotations

from typing import Any

from level4.export.book_sampler import BookSampler
from level4.export.export_schema import DAY_NS, ns_of
from level4.export.parquet_writer import DatasetWriter


class EventRows:
    def __init__(self, writers: dict[str, DatasetWriter], depth: int, interval_ns: int) -> None:
        self.trades = writers.get("trades")
        self.changes = writers.get("book_changes")
        self.quotes = writers.get("quotes")
        self.snapshots = writers.get("book_snapshots")
        self.depth = depth
        self.interval = interval_ns
        self.samplers: dict[str, BookSampler] = {}
        self.events = 0
        self._last = (-1.0, 0)  # the events of one batch share a receipt time: converted once

    def event(self, ev: dict[str, Any], received: float) -> None:
        """One published event; `received` is its receipt time (see export_run)."""
        self.events += 1
        tag: str = ev["market"]
        seq: int = ev["sequence"]
        channel = ev["channel"]
        last = self._last
        if received == last[0]:
            r_ns = last[1]
        else:
            r_ns = ns_of(received)
            self._last = (received, r_ns)
        vt = ev["venue_time"]
        v_ns = None if vt is None else r_ns if vt == received else ns_of(vt)
        key = (tag, r_ns // DAY_NS)
        sampler = self._sampler(tag)
        if sampler is not None:
            if channel == "status" and ev["status"] == "started":
                sampler.tree_started(r_ns)
            else:
                sampler.advance(r_ns)
        if channel == "book":
            if self.changes is not None:
                self._book(ev, tag, v_ns, r_ns, seq, key, self.changes)
            if sampler is not None:
                sampler.apply(ev)
        elif channel == "top" and self.quotes is not None:
            bid, ask = ev["bid"] or (None, None), ev["ask"] or (None, None)
            self.quotes.add(key, (tag, v_ns, r_ns, seq, bid[0], bid[1], ask[0], ask[1]))
        elif channel == "trade" and self.trades is not None:
            tid = ev["trade_id"]
            side = ev["side"] or None  # "" for an auction fill: no taker
            row = (tag, v_ns, r_ns, seq, None if tid is None else str(tid), side, ev["price"], ev["size"])
            self.trades.add(key, row)
        if sampler is not None:
            sampler.sequence = seq

    @staticmethod
    def _book(
        ev: dict[str, Any], tag: str, v_ns: int | None, r_ns: int, seq: int, key: tuple[str, int], out: DatasetWriter
    ) -> None:
        snapshot, synchronised, reason = bool(ev["snapshot"]), bool(ev["synchronised"]), ev["reason"]
        bids, asks = ev["bids"], ev["asks"]
        if snapshot and not bids and not asks:
            out.add(key, (tag, v_ns, r_ns, seq, True, synchronised, reason, None, None, None, None))
            return
        head = (tag, v_ns, r_ns, seq, snapshot, synchronised, reason)
        out.add_many(
            key,
            [
                (*head, side, lv[0], lv[1], lv[2] if len(lv) > 2 else None)
                for side, levels in (("bid", bids), ("ask", asks))
                for lv in levels
            ],
        )

    def _sampler(self, tag: str) -> BookSampler | None:
        if self.snapshots is None:
            return None
        sampler = self.samplers.get(tag)
        if sampler is None:
            sampler = self.samplers[tag] = BookSampler(tag, self.depth, self.interval, self.snapshots)
        return sampler

    def finish_market(self) -> None:
        for sampler in self.samplers.values():
            sampler.finish()
        self.samplers.clear()

    def drop_market(self) -> None:
        self.samplers.clear()
