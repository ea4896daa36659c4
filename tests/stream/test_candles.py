"""Candles from trades: OHLCV per interval, exact, in time order."""

from __future__ import annotations

from level4.stream.candles import Candles

T0 = 1_700_000_000 - 1_700_000_000 % 3600  # the start of an hour


def test_ohlcv_per_interval() -> None:
    candles = Candles()
    candles.add(T0 + 1, "99.9", "0.1")
    candles.add(T0 + 2, "100.5", "0.2")  # a higher price as a decimal, a lower one as text
    candles.add(T0 + 3, "99.10", "0.00000001")
    candles.add(T0 + 61, "101", "1")
    one = candles.get("1m")
    assert one == [
        {
            "start": T0,
            "end": T0 + 60,
            "open": "99.9",
            "high": "100.5",
            "low": "99.10",
            "close": "99.10",
            "volume": "0.30000001",
            "trades": 3,
        },
        {
            "start": T0 + 60,
            "end": T0 + 120,
            "open": "101",
            "high": "101",
            "low": "101",
            "close": "101",
            "volume": "1",
            "trades": 1,
        },
    ]
    [hour] = candles.get("1h")
    assert (hour["open"], hour["high"], hour["low"], hour["close"]) == ("99.9", "101", "99.10", "101")
    assert hour["volume"] == "1.30000001" and hour["trades"] == 4
    assert candles.get("1m", limit=1) == one[-1:]


def test_late_trades_land_in_their_own_candle_and_the_window_is_bounded() -> None:
    candles = Candles(kept=3)
    for minute in (0, 2, 3):
        candles.add(T0 + minute * 60, "10", "1")
    candles.add(T0 + 60 + 5, "11", "1")  # late: a candle between the others
    assert [c["start"] for c in candles.get("1m")] == [T0 + 60, T0 + 120, T0 + 180]  # the oldest made room
    candles.add(T0 + 125, "9", "2")  # late, into an existing candle
    assert candles.get("1m")[1]["low"] == "9" and candles.get("1m")[1]["volume"] == "3"
    candles.add(T0 - 600, "1", "1")  # older than the whole window: dropped
    assert [c["start"] for c in candles.get("1m")] == [T0 + 60, T0 + 120, T0 + 180]
    candles.add(T0 + 240, "12", "1")
    assert [c["start"] for c in candles.get("1m")] == [T0 + 120, T0 + 180, T0 + 240]
