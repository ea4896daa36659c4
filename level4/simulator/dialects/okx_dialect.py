"""OKX v5 public dialect: subscribe/unsubscribe acknowledgements, `books`
(snapshot, then updates chained by seqId/prevSeqId, with the CRC32 checksum),
`trades`, plain-text ping/pong, and the empty keep-alive push a quiet book gets.

Like OKX, a client sees the best `depth` levels a side (400 for `books`):
levels leaving that window are sent as deletes and levels entering it as
adds, so the client's book is always exactly the window.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

BOOK_DEPTH = 400
CHECKSUM_DEPTH = 25


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def ms(now: float) -> str:
    return str(int(now * 1000))


@dataclass(slots=True)
class Window:
    """What one client holds of one book, and the last seqId it was sent."""

    seq: int
    bids: dict[str, str] = field(default_factory=dict)  # price -> size, best first
    asks: dict[str, str] = field(default_factory=dict)
    quiet: bool = True  # nothing sent since the last keep-alive round


class OkxDialect:
    venue = "OKX"
    heartbeat_interval: float | None = 5.0

    def __init__(self, depth: int = BOOK_DEPTH, checksums: bool = True) -> None:
        self.depth = depth
        # OKX has stopped computing book checksums and sends 0; the 2022
        # dialect sent real ones. Both are served so both paths get exercised.
        self.checksums = checksums

    # --- client requests -----------------------------------------------------------

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        conn_id = session.extra.setdefault("conn_id", f"{id(session) & 0xFFFFFFFF:08x}")
        if frame == "ping":
            return ["pong"]
        if not isinstance(frame, dict) or frame.get("op") not in ("subscribe", "unsubscribe"):
            text = frame if isinstance(frame, str) else dumps(frame)
            return [dumps({"event": "error", "code": "60012", "msg": f"Invalid request: {text}", "connId": conn_id})]
        subscribe = frame["op"] == "subscribe"
        windows: dict[str, Window] = session.extra.setdefault("books", {})
        trades: set[str] = session.extra.setdefault("trades", set())
        out: list[str] = []
        for arg in frame.get("args", []):
            channel = arg.get("channel") if isinstance(arg, dict) else None
            inst = arg.get("instId") if isinstance(arg, dict) else None
            if channel not in ("books", "trades") or not isinstance(inst, str) or inst not in markets:
                msg = f"Wrong URL or channel:{channel},instId:{inst} doesn't exist."
                out.append(dumps({"event": "error", "code": "60018", "msg": msg, "connId": conn_id}))
                continue
            out.append(dumps({"event": frame["op"], "arg": {"channel": channel, "instId": inst}, "connId": conn_id}))
            if not subscribe:
                if channel == "books":
                    windows.pop(inst, None)
                else:
                    trades.discard(inst)
                if inst not in windows and inst not in trades:
                    session.subscribed.discard(inst)
                continue
            session.subscribed.add(inst)
            if channel == "trades":
                trades.add(inst)
                continue
            market = markets[inst]
            window = windows[inst] = Window(market.update_id)
            window.bids = {lv[0]: lv[1] for lv in market.book.bids_levels(self.depth)}
            window.asks = {lv[0]: lv[1] for lv in market.book.asks_levels(self.depth)}
            data = {
                "asks": [[p, s, "0", "1"] for p, s in window.asks.items()],
                "bids": [[p, s, "0", "1"] for p, s in window.bids.items()],
                "ts": ms(now),
                "checksum": self.checksum(window),
                "prevSeqId": -1,
                "seqId": window.seq,
            }
            out.append(dumps({"arg": {"channel": "books", "instId": inst}, "action": "snapshot", "data": [data]}))
        return out

    # --- market happenings ---------------------------------------------------------

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        inst = market.instrument.symbol
        window: Window | None = session.extra.get("books", {}).get(inst)
        if window is None:
            return []
        new_bids = {lv[0]: lv[1] for lv in market.book.bids_levels(self.depth)}
        new_asks = {lv[0]: lv[1] for lv in market.book.asks_levels(self.depth)}
        bid_changes = self._diff(window.bids, new_bids)
        ask_changes = self._diff(window.asks, new_asks)
        window.bids, window.asks = new_bids, new_asks
        if not bid_changes and not ask_changes:
            return []  # nothing inside the window moved
        return [self._push(inst, window, market.update_id, bid_changes, ask_changes, now)]

    @staticmethod
    def _diff(old: dict[str, str], new: dict[str, str]) -> list[list[str]]:
        out = [[p, s, "0", "1"] for p, s in new.items() if old.get(p) != s]
        out += [[p, "0", "0", "0"] for p in old if p not in new]
        return out

    def _push(self, inst: str, window: Window, seq: int, bids: list[Any], asks: list[Any], now: float) -> str:
        data = {
            "asks": asks,
            "bids": bids,
            "ts": ms(now),
            "checksum": self.checksum(window),
            "prevSeqId": window.seq,
            "seqId": seq,
        }
        window.seq = seq
        window.quiet = False
        return dumps({"arg": {"channel": "books", "instId": inst}, "action": "update", "data": [data]})

    def checksum(self, window: Window) -> int:
        if not self.checksums:
            return 0
        bids = list(window.bids.items())[:CHECKSUM_DEPTH]
        asks = list(window.asks.items())[:CHECKSUM_DEPTH]
        parts: list[str] = []
        for i in range(max(len(bids), len(asks))):
            if i < len(bids):
                parts += bids[i]
            if i < len(asks):
                parts += asks[i]
        value = zlib.crc32(":".join(parts).encode())
        return value - (1 << 32) if value & (1 << 31) else value

    @staticmethod
    def corrupt_checksum(frame: str) -> str | None:
        """The frame with a wrong checksum (fault injection), or None when it carries none
        (OKX's 0 means "not computed")."""
        parsed = orjson.loads(frame)
        data = parsed.get("data") if isinstance(parsed, dict) else None
        if not data or not isinstance(data[0], dict) or not data[0].get("checksum"):
            return None
        value = data[0]["checksum"]
        data[0]["checksum"] = value + 1 if 0 <= value < 2**31 - 1 else value - 1  # never 0, still 32-bit
        return dumps(parsed)

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        inst = market.instrument.symbol
        if inst not in session.extra.get("trades", ()):
            return []
        row = {
            "instId": inst,
            "tradeId": str(trade.trade_id),
            "px": trade.price,
            "sz": trade.size,
            "side": trade.taker_side,
            "ts": ms(trade.timestamp),
            "count": "1",
        }
        return [dumps({"arg": {"channel": "trades", "instId": inst}, "data": [row]})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        """A book quiet since the last round gets OKX's keep-alive: no levels,
        seqId equal to prevSeqId."""
        out: list[str] = []
        for inst, window in session.extra.get("books", {}).items():
            if window.quiet:
                out.append(self._push(inst, window, window.seq, [], [], now))
            window.quiet = True
        return out

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None


dialect = OkxDialect()
