"""Exact decimal strings from whatever a venue sends.

Most venues send prices as strings, which level4 keeps verbatim. Some send
JSON numbers; Python's float repr is the shortest string that round-trips,
so it reproduces the venue's own literal for any value of up to 15
significant digits, and only the exponent form needs expanding.
"""

from __future__ import annotations

from decimal import Decimal


def to_decimal_str(value: str | float | int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def is_zero(size: str) -> bool:
    """True for "0", "0.0", "0.00000000" and the like."""
    return float(size) == 0.0
