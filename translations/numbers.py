"""Exact decimal strings from whatever a venue sends.

Most venues send prices as strings, which level4 keeps verbatim. Some send
JSON numbers; Python's float repr is the shortest string that round-trips,
so it reproduces the venue's own literal for any value of up to 15
significant digits, and only the exponent form needs expanding.

A venue repeats the same few thousand prices and sizes all day, and a
float's repr is slow next to a dict lookup, so the text of every non-zero
float is remembered (a bounded table, emptied when full). Only floats are
remembered: an int or a bool equal to a float must not borrow its text.
"""

from __future__ import annotations

from decimal import Decimal

_FLOAT_TEXT: dict[float, str] = {}
_FLOAT_TEXT_MAX = 1 << 17


def _float_text(value: float) -> str:
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def to_decimal_str(value: str | float | int) -> str:
    cls = value.__class__
    if cls is float:
        text = _FLOAT_TEXT.get(value)  # type: ignore[arg-type]
        if text is None:
            text = _float_text(value)  # type: ignore[arg-type]
            if value:  # -0.0 equals 0.0 but is written differently: zero is never remembered
                if len(_FLOAT_TEXT) >= _FLOAT_TEXT_MAX:
                    _FLOAT_TEXT.clear()
                _FLOAT_TEXT[value] = text  # type: ignore[index]
        return text
    if cls is str:
        return value  # type: ignore[return-value]
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return _float_text(value)


def is_zero(size: str) -> bool:
    """True for "0", "0.0", "0.00000000" and the like."""
    return float(size) == 0.0


def to_places(value: str | float | int, places: int) -> str:
    """The exact decimal text of `value` written with `places` decimals, as
    venues whose checksums cover trailing zeros expect when they send JSON
    numbers (Kraken spot v2: 0.566 of a four-decimal pair is "0.5660").
    A value with more (non-zero) decimals than that is refused (ValueError),
    never rounded; anything but a number or its text is refused (TypeError).
    Negative `places`: the value's own literal, checked as a number all the same."""
    cls = value.__class__
    if cls is not float and cls is not int and cls is not str:
        raise TypeError(f"{value!r} is not a number")
    text = to_decimal_str(value)
    if places < 0:
        return text
    point = text.find(".")
    if point < 0:
        return f"{text}.{'0' * places}" if places > 0 else text
    short = places - (len(text) - point - 1)
    if short == 0:
        return text
    if short > 0:
        return text + "0" * short
    cut = len(text) + short
    if not text[cut:].strip("0"):
        return text[:cut].rstrip(".")
    raise ValueError(f"{text} has more than the pair's {places} decimals")
