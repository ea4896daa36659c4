"""Coinbase Exchange feed dialect: subscriptions, snapshot, l2update, match, heartbeat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

BOOK_CHANNELS = {"level2", "level2_batch", "level2_50"}


def iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class CoinbaseDialect:
    venue = "COINBASE"
    heartbeat_interval: float | None = 1.0

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict) or frame.get("type") not in ("subscribe", "unsubscribe"):
            return [dumps({"type": "error", "message": "Failed to subscribe", "reason": "unknown message type"})]
        products = frame.get("product_ids", [])
        channels = [c if isinstance(c, str) else c.get("name", "") for c in frame.get("channels", [])]
        unknown = [p for p in products if p not in markets]
        if unknown:
            return [
                dumps(
                    {
                        "type": "error",
                        "message": "Failed to subscribe",
                        "reason": f"{unknown[0]} is not a valid product",
                    }
                )
            ]
        if frame["type"] == "unsubscribe":
            session.subscribed.difference_update(products)
            return [dumps({"type": "subscriptions", "channels": []})]
        session.extra["heartbeat"] = "heartbeat" in channels
        out = [dumps({"type": "subscriptions", "channels": [{"name": c, "product_ids": products} for c in channels]})]
        if BOOK_CHANNELS.intersection(channels):
            for product in products:
                book = markets[product].book
                out.append(
                    dumps(
                        {
                            "type": "snapshot",
                            "product_id": product,
                            "bids": [[lv[0], lv[1]] for lv in book.bids_levels()],
                            "asks": [[lv[0], lv[1]] for lv in book.asks_levels()],
                            "time": iso(now),
                        }
                    )
                )
        session.subscribed.update(products)
        return out

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        changes = [["buy", lv[0], lv[1]] for lv in bids] + [["sell", lv[0], lv[1]] for lv in asks]
        return [
            dumps({"type": "l2update", "product_id": market.instrument.symbol, "changes": changes, "time": iso(now)})
        ]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        maker_side = "sell" if trade.taker_side == "buy" else "buy"
        frame = {
            "type": "match",
            "trade_id": trade.trade_id,
            "side": maker_side,
            "size": trade.size,
            "price": trade.price,
            "product_id": market.instrument.symbol,
            "sequence": market.update_id,
            "time": iso(trade.timestamp),
        }
        return [dumps(frame)]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        if not session.extra.get("heartbeat"):
            return []
        return [
            dumps(
                {
                    "type": "heartbeat",
                    "sequence": markets[p].update_id,
                    "last_trade_id": markets[p].trade_id,
                    "product_id": p,
                    "time": iso(now),
                }
            )
            for p in sorted(session.subscribed)
        ]

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None


dialect = CoinbaseDialect()
