"""Price levels in their public JSON shape: `[price, size]`, or
`[price, size, orders]` for venues whose scheme marks the third element of
its levels as an order count (`level_counts = True`); other venues' lists
may carry other things there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from translations.protocol import Level, Scheme


def has_counts(scheme: Scheme) -> bool:
    return bool(getattr(scheme, "level_counts", False))


def render(levels: Iterable[Level], counts: bool = False) -> list[list[Any]]:
    if counts:
        return [[lv[0], lv[1], lv[2]] if len(lv) > 2 else [lv[0], lv[1]] for lv in levels]
    return [[lv[0], lv[1]] for lv in levels]
