"""Bybit v5 public dialect: `orderbook.{depth}.{symbol}` snapshot and deltas
with a per-topic update id `u` and the matching sequence `seq`,
`publicTrade.{symbol}`, `{"op":"ping"}` answered with a pong.

The venue serves only the subscribed depth: each client's view of the top
levels is kept, and a change is sent as the difference it makes to that
view (a level pushed out of the window is sent with size "0"), so changes
deeper in the book send nothing and do not use up an update id.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

DEPTHS = frozenset((1, 50, 200, 500, 1000))
_connections = itertools.count(1)

View = dict[float, Level]  # price -> level, one side of what a client was told


@dataclass(slots=True)
class TopicView:
    depth: int
    update_id: int
    bids: View = field(default_factory=dict)
    asks: View = field(default_factory=dict)


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _top(book: OrderBook, depth: int) -> tuple[View, View]:
    return (
        {float(lv[0]): lv for lv in book.bids_levels(depth)},
        {float(lv[0]): lv for lv in book.asks_levels(depth)},
    )


def _diff(old: View, new: View) -> list[list[str]]:
    changes = [[lv[0], "0"] for key, lv in old.items() if key not in new]
    changes += [[lv[0], lv[1]] for key, lv in new.items() if key not in old or old[key][1] != lv[1]]
    return changes


class BybitDialect:
    venue = "BYBIT"
    heartbeat_interval: float | None = None  # clients ping; the venue only answers

    @staticmethod
    def _views(session: ClientSession) -> dict[str, TopicView]:
        views: dict[str, TopicView] = session.extra.setdefault("books", {})
        return views

    @staticmethod
    def _trades(session: ClientSession) -> set[str]:
        trades: set[str] = session.extra.setdefault("trades", set())
        return trades

    @staticmethod
    def _conn_id(session: ClientSession) -> str:
        conn: str = session.extra.setdefault("conn_id", f"sim-{next(_connections):08d}")
        return conn

    def _answer(self, session: ClientSession, frame: dict[str, Any], ok: bool, message: str = "") -> str:
        return dumps(
            {
                "success": ok,
                "ret_msg": message,
                "conn_id": self._conn_id(session),
                "req_id": frame.get("req_id", ""),
                "op": frame.get("op"),
            }
        )

    # --- client frames -------------------------------------------------------------

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict):
            return [dumps({"success": False, "ret_msg": "error:request not json", "conn_id": self._conn_id(session)})]
        op = frame.get("op")
        if op == "ping":
            return [self._answer(session, frame, True, "pong")]
        if op not in ("subscribe", "unsubscribe"):
            return [self._answer(session, frame, False, f"error:unsupported op {op}")]
        args = frame.get("args") or []
        topics = [str(a) for a in ([args] if isinstance(args, str) else args)]
        parsed: list[tuple[str, str, int]] = []
        for topic in topics:
            kind, symbol, depth = self._parse(topic)
            if not kind or symbol not in markets:
                return [self._answer(session, frame, False, f"error:handler not found,topic:{topic}")]
            parsed.append((kind, symbol, depth))
        views, trades = self._views(session), self._trades(session)
        if op == "unsubscribe":
            for (kind, symbol, _), topic in zip(parsed, topics, strict=True):
                if kind == "book":
                    views.pop(topic, None)
                else:
                    trades.discard(symbol)
                if symbol not in trades and not any(t.endswith(f".{symbol}") for t in views):
                    session.subscribed.discard(symbol)
            return [self._answer(session, frame, True)]
        for (kind, symbol, _), topic in zip(parsed, topics, strict=True):
            if topic in views or (kind == "trade" and symbol in trades):
                return [self._answer(session, frame, False, f"error:already subscribed,topic:{topic}")]
        out = [self._answer(session, frame, True)]
        for (kind, symbol, depth), topic in zip(parsed, topics, strict=True):
            session.subscribed.add(symbol)
            if kind == "trade":
                trades.add(symbol)
                continue
            market = markets[symbol]
            # Update ids are the venue's per topic; a fresh one starts well clear of 1,
            # which the venue keeps for snapshots after a restart.
            view = views[topic] = TopicView(depth, 1000 + market.update_id)
            view.bids, view.asks = _top(market.book, depth)
            out.append(
                self._book_frame(
                    topic, "snapshot", market, view, list(view.bids.values()), list(view.asks.values()), now
                )
            )
        return out

    @staticmethod
    def _parse(topic: str) -> tuple[str, str, int]:
        parts = topic.split(".")
        if len(parts) == 3 and parts[0] == "orderbook" and parts[1].isdigit() and int(parts[1]) in DEPTHS:
            return "book", parts[2], int(parts[1])
        if len(parts) == 2 and parts[0] == "publicTrade":
            return "trade", parts[1], 0
        return "", "", 0

    def _book_frame(
        self,
        topic: str,
        kind: str,
        market: SimMarket,
        view: TopicView,
        bids: Sequence[Any],
        asks: Sequence[Any],
        now: float,
    ) -> str:
        ms = int(now * 1000)
        data = {
            "s": market.instrument.symbol,
            "b": [[lv[0], lv[1]] for lv in bids],
            "a": [[lv[0], lv[1]] for lv in asks],
            "u": view.update_id,
            "seq": market.update_id,
        }
        return dumps({"topic": topic, "type": kind, "ts": ms, "data": data, "cts": ms})

    # --- market happenings ---------------------------------------------------------

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        symbol = market.instrument.symbol
        out: list[str] = []
        for topic, view in self._views(session).items():
            if topic.rpartition(".")[2] != symbol:
                continue
            new_bids, new_asks = _top(market.book, view.depth)
            bid_changes, ask_changes = _diff(view.bids, new_bids), _diff(view.asks, new_asks)
            if not bid_changes and not ask_changes:
                continue  # beyond the window: the venue says nothing
            view.bids, view.asks = new_bids, new_asks
            view.update_id += 1
            out.append(self._book_frame(topic, "delta", market, view, bid_changes, ask_changes, now))
        return out

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        symbol = market.instrument.symbol
        if symbol not in self._trades(session):
            return []
        row = {
            "T": int(trade.timestamp * 1000),
            "s": symbol,
            "S": "Buy" if trade.taker_side == "buy" else "Sell",
            "v": trade.size,
            "p": trade.price,
            "L": "ZeroPlusTick",
            "i": f"sim-{trade.trade_id}",
            "BT": False,
        }
        return [dumps({"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": int(now * 1000), "data": [row]})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None  # the snapshot comes in band


dialect = BybitDialect()
