"""Gemini market data v2 dialect: `l2` subscriptions answered with the whole
book (plus recent trades and auction events), then `l2_updates` changes,
`trade` frames naming the taker's side, and heartbeats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def error(reason: str, message: str) -> str:
    return dumps({"result": "error", "reason": reason, "message": message})


class GeminiDialect:
    venue = "GEMINI"
    heartbeat_interval: float | None = 5.0

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict) or frame.get("type") not in ("subscribe", "unsubscribe"):
            return [error("InvalidJson", "expected a subscribe or unsubscribe message")]
        symbols: list[str] = []
        for sub in frame.get("subscriptions") or ():
            if not isinstance(sub, dict) or sub.get("name") != "l2":
                return [error("InvalidSubscription", f"unsupported subscription {sub!r}")]
            symbols.extend(sub.get("symbols") or ())
        unknown = [s for s in symbols if s not in markets]
        if unknown:
            return [error("InvalidSymbol", f"unknown symbol {unknown[0]}")]
        if frame["type"] == "unsubscribe":
            session.subscribed.difference_update(symbols)
            return []
        out: list[str] = []
        for symbol in symbols:
            if symbol in session.subscribed:
                continue
            session.subscribed.add(symbol)
            book = markets[symbol].book
            changes = [["buy", lv[0], lv[1]] for lv in book.bids_levels()]
            changes += [["sell", lv[0], lv[1]] for lv in book.asks_levels()]
            # the simulator keeps no trade history, so the recent trades are none
            out.append(
                dumps({"type": "l2_updates", "symbol": symbol, "changes": changes, "trades": [], "auction_events": []})
            )
        return out

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        changes = [["buy", lv[0], lv[1]] for lv in bids] + [["sell", lv[0], lv[1]] for lv in asks]
        if not changes:
            return []
        return [dumps({"type": "l2_updates", "symbol": market.instrument.symbol, "changes": changes})]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        frame = {
            "type": "trade",
            "symbol": market.instrument.symbol,
            # event ids grow with every market event; the book change before it bumped update_id
            "event_id": market.update_id,
            "timestamp": int(trade.timestamp * 1000),
            "price": trade.price,
            "quantity": trade.size,
            "side": trade.taker_side,
            "tid": trade.trade_id,
        }
        return [dumps(frame)]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        if not session.subscribed:
            return []
        return [dumps({"type": "heartbeat", "timestamp": int(now * 1000)})]

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None


dialect = GeminiDialect()
