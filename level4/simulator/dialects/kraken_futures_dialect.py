"""Kraken Futures websocket v1 dialect: `subscribe` / `unsubscribe` events per
feed (`book`, `trade`) and product, one `subscribed` answer per product, a
`book_snapshot` then one `book` message per changed level, each numbered by
the product's `seq` (one more than the message before), `trade` messages
with the taker's side; prices and sizes are JSON numbers
(https://docs.kraken.com/exchange/api-reference/futures-websocket/book.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

FEEDS = ("book", "trade")
SEQ_START = 1000  # a product's first snapshot is numbered from here, as the venue's are from wherever it stands


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _level(lv: Level) -> dict[str, float]:
    return {"price": float(lv[0]), "qty": float(lv[1])}


class KrakenFuturesDialect:
    venue = "KRAKEN"
    heartbeat_interval: float | None = None  # heartbeats are a feed of their own, not subscribed here

    @staticmethod
    def _feeds(session: ClientSession) -> dict[str, set[str]]:
        feeds: dict[str, set[str]] = session.extra.setdefault("feeds", {feed: set() for feed in FEEDS})
        return feeds

    @staticmethod
    def _seq(session: ClientSession) -> dict[str, int]:
        seqs: dict[str, int] = session.extra.setdefault("seq", {})
        return seqs

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not session.extra.get("info_sent"):
            session.extra["info_sent"] = True
            head = [dumps({"event": "info", "version": 1})]
        else:
            head = []
        if not isinstance(frame, dict) or frame.get("event") not in ("subscribe", "unsubscribe"):
            return [*head, dumps({"event": "error", "message": "Json Error"})]
        feed, ids = frame.get("feed"), frame.get("product_ids")
        if feed not in FEEDS:
            return [*head, dumps({"event": "error", "message": "Invalid feed"})]
        if not isinstance(ids, list) or not all(isinstance(p, str) for p in ids):
            return [*head, dumps({"event": "error", "message": "Json Error"})]
        products = [p.upper() for p in ids]
        if any(p not in markets for p in products):
            return [*head, dumps({"event": "error", "message": "Invalid product id"})]
        subscribed = self._feeds(session)[feed]
        out = head
        for pid in products:
            if frame["event"] == "unsubscribe":
                subscribed.discard(pid)
                out.append(dumps({"event": "unsubscribed", "feed": feed, "product_ids": [pid]}))
                continue
            subscribed.add(pid)
            out.append(dumps({"event": "subscribed", "feed": feed, "product_ids": [pid]}))
            if feed == "book":
                out.append(self._snapshot(session, markets[pid], now))
            else:
                out.append(dumps({"feed": "trade_snapshot", "product_id": pid, "trades": []}))
        session.subscribed = set().union(*self._feeds(session).values())
        return out

    def _snapshot(self, session: ClientSession, market: SimMarket, now: float) -> str:
        pid = market.instrument.symbol
        seqs = self._seq(session)
        seqs[pid] = seqs.get(pid, SEQ_START) + 1
        book = market.book
        return dumps(
            {
                "feed": "book_snapshot",
                "product_id": pid,
                "timestamp": int(now * 1000),
                "seq": seqs[pid],
                "bids": [_level(lv) for lv in book.bids_levels()],
                "asks": [_level(lv) for lv in book.asks_levels()],
            }
        )

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        pid = market.instrument.symbol
        if pid not in self._feeds(session)["book"]:
            return []
        seqs, stamp, out = self._seq(session), int(now * 1000), []
        for side, levels in (("buy", bids), ("sell", asks)):
            for lv in levels:
                seqs[pid] += 1
                msg: dict[str, Any] = {"feed": "book", "product_id": pid, "side": side, "seq": seqs[pid]}
                msg |= _level(lv)
                out.append(dumps({**msg, "timestamp": stamp}))
        return out

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        pid = market.instrument.symbol
        if pid not in self._feeds(session)["trade"]:
            return []
        msg: dict[str, Any] = {"feed": "trade", "product_id": pid, "uid": f"sim-{trade.trade_id}"}
        msg["side"] = trade.taker_side
        msg |= {"type": "fill", "seq": trade.trade_id, "time": int(trade.timestamp * 1000)}
        return [dumps({**msg, "qty": float(trade.size), "price": float(trade.price)})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None


dialect = KrakenFuturesDialect()
