"""Venue timestamps to Unix seconds (floats), cheaply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# "YYYY-MM-DDTHH" -> microseconds since the epoch at that hour, UTC. A feed's
# timestamps share their hour for an hour, so the calendar is worked out once
# (a bounded table, emptied when full).
_HOURS: dict[str, int] = {}
_HOURS_MAX = 4096


def _parsed(text: str) -> float:
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        # fromisoformat wants 3 or 6 fraction digits on 3.11; venues send 1 to 9.
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tz = rest[:digits], rest[digits:]
        text = f"{head}.{(frac + '000000')[:6]}{tz}"
    return datetime.fromisoformat(text).timestamp()


def iso_seconds(text: str) -> float:
    """'2021-04-17T16:43:37.075687Z' (any fraction length, Z or offset).

    The UTC form venues send is read by hand, the hour from the table: the
    same float as datetime's (microseconds since the epoch, a fraction's
    seventh digit on dropped, divided by a million once). Anything else goes
    to datetime."""
    n = len(text)
    if n >= 20 and text[n - 1] == "Z" and text[13] == ":" and text[16] == ":" and text.isascii():
        clock, frac = text[14:19], text[20 : n - 1]
        if (n == 20 or (text[19] == "." and frac.isdigit())) and clock[:2].isdigit() and clock[3:].isdigit():
            minutes, seconds = int(clock[:2]), int(clock[3:])
            if minutes < 60 and seconds < 60:
                hour = _HOURS.get(text[:13])
                if hour is None:
                    hour = (datetime.fromisoformat(text[:13] + ":00:00+00:00") - _EPOCH) // _MICROSECOND
                    if len(_HOURS) >= _HOURS_MAX:
                        _HOURS.clear()
                    _HOURS[text[:13]] = hour
                micros = int((frac + "000000")[:6]) if frac else 0
                return (hour + (minutes * 60 + seconds) * 1_000_000 + micros) / 1_000_000
    return _parsed(text)


def ms_seconds(value: int | float | str) -> float:
    return int(value) / 1000.0


def us_seconds(value: int | float | str) -> float:
    return int(value) / 1_000_000.0


def ns_seconds(value: int | float | str) -> float:
    return int(value) / 1_000_000_000.0
