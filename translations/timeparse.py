"""Venue timestamps to Unix seconds (floats), cheaply."""

from __future__ import annotations

from datetime import datetime


def iso_seconds(text: str) -> float:
    """'2021-04-17T16:43:37.075687Z' (any fraction length, Z or offset)."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        # fromisoformat wants 3 or 6 fraction digits on 3.11; venues send 1 to 9.
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tz = rest[:digits], rest[digits:]
        text = f"{head}.{(frac + '000000')[:6]}{tz}"
    return datetime.fromisoformat(text).timestamp()


def ms_seconds(value: int | float | str) -> float:
    return int(value) / 1000.0


def us_seconds(value: int | float | str) -> float:
    return int(value) / 1_000_000.0


def ns_seconds(value: int | float | str) -> float:
    return int(value) / 1_000_000_000.0
