"""bitFlyer Lightning realtime dialect (json-rpc): board snapshots on
subscribing and again every few seconds, board diffs carrying the mid
price, executions naming the taker's side. Numbers go out as JSON numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

SNAPSHOT = "lightning_board_snapshot_"
BOARD = "lightning_board_"
EXECUTIONS = "lightning_executions_"
SNAPSHOT_DEPTH = 300  # the venue's snapshots stop at 300 levels a side


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def exec_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mid_price(book: OrderBook) -> float:
    """Best bid and ask averaged, rounded down to the price grid; 0 when a side is empty."""
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return 0.0
    grid = max(len(p.partition(".")[2]) for p in (bid[0], ask[0]))
    mid = (Decimal(bid[0]) + Decimal(ask[0])) / 2
    return float(mid.quantize(Decimal(1).scaleb(-grid), rounding=ROUND_FLOOR))


def message(channel: str, body: Any) -> str:
    return dumps({"jsonrpc": "2.0", "method": "channelMessage", "params": {"channel": channel, "message": body}})


def board_levels(levels: Sequence[Level]) -> list[dict[str, float]]:
    return [{"price": float(lv[0]), "size": float(lv[1])} for lv in levels]


class BitflyerDialect:
    venue = "BITFLYER"
    # Not a keep-alive: the venue re-sends every subscribed board snapshot this often.
    heartbeat_interval: float | None = 5.0

    @staticmethod
    def _channels(session: ClientSession) -> set[str]:
        channels: set[str] = session.extra.setdefault("channels", set())
        return channels

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict):
            return [dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})]
        rid = frame.get("id")
        method = frame.get("method")
        channel = (frame.get("params") or {}).get("channel")
        if method not in ("subscribe", "unsubscribe"):
            return [dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}})]
        code = self._product(channel, markets)
        if code is None or not isinstance(channel, str):
            return [dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "Invalid params"}})]
        channels = self._channels(session)
        out = [dumps({"jsonrpc": "2.0", "id": rid, "result": True})] if rid is not None else []
        if method == "unsubscribe":
            channels.discard(channel)
            if not any(self._product(c, markets) == code for c in channels):
                session.subscribed.discard(code)
            return out
        channels.add(channel)
        session.subscribed.add(code)
        if channel.startswith(SNAPSHOT):
            out.append(self._snapshot(markets[code]))
        return out

    @staticmethod
    def _product(channel: Any, markets: Markets) -> str | None:
        if not isinstance(channel, str):
            return None
        for prefix in (SNAPSHOT, BOARD, EXECUTIONS):
            if channel.startswith(prefix):
                code = channel[len(prefix) :]
                return code if code in markets else None
        return None

    @staticmethod
    def _snapshot(market: SimMarket) -> str:
        book = market.book
        body = {
            "mid_price": mid_price(book),
            "bids": board_levels(book.bids_levels(SNAPSHOT_DEPTH)),
            "asks": board_levels(book.asks_levels(SNAPSHOT_DEPTH)),
        }
        return message(SNAPSHOT + market.instrument.symbol, body)

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        channel = BOARD + market.instrument.symbol
        if channel not in self._channels(session):
            return []
        body = {"mid_price": mid_price(market.book), "bids": board_levels(bids), "asks": board_levels(asks)}
        return [message(channel, body)]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        channel = EXECUTIONS + market.instrument.symbol
        if channel not in self._channels(session):
            return []
        stamp = datetime.fromtimestamp(trade.timestamp, UTC).strftime("%Y%m%d-%H%M%S")
        execution = {
            "id": trade.trade_id,
            "side": trade.taker_side.upper(),
            "price": float(trade.price),
            "size": float(trade.size),
            "exec_date": exec_date(trade.timestamp),
            "buy_child_order_acceptance_id": f"JRF{stamp}-{trade.trade_id:06d}",
            "sell_child_order_acceptance_id": f"JRF{stamp}-{trade.trade_id + 1:06d}",
        }
        return [message(channel, [execution])]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        channels = self._channels(session)
        return [self._snapshot(markets[c[len(SNAPSHOT) :]]) for c in sorted(channels) if c.startswith(SNAPSHOT)]

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None  # books come over the websocket only


dialect = BitflyerDialect()
