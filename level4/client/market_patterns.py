"""Choosing markets: by id, by tag, or by a shell-style pattern over the tags
the service lists (`BINANCE.PERP:*`, `*:BTC-USD?`), case-insensitively as
the service compares tags."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from level4.client.client_errors import UnknownMarket

Selector = int | str


def is_pattern(selector: Selector) -> bool:
    return isinstance(selector, str) and any(c in selector for c in "*?[")


def resolve(selectors: Iterable[Selector], markets: list[dict[str, Any]], strict: bool) -> dict[int, str]:
    """{market id: tag} of the markets chosen. `strict`: a selector that
    chooses nothing raises `UnknownMarket` (a typo should not wait forever);
    otherwise it simply chooses nothing (a market removed since)."""
    by_id = {int(m["id"]): str(m["tag"]) for m in markets}
    by_tag = {tag.upper(): market_id for market_id, tag in by_id.items()}
    chosen: dict[int, str] = {}
    for selector in selectors:
        if is_pattern(selector):
            assert isinstance(selector, str)
            pattern = selector.strip().upper()
            found = {i: t for i, t in by_id.items() if fnmatchcase(t.upper(), pattern)}
        else:
            market_id = _id_of(selector, by_tag)
            found = {market_id: by_id[market_id]} if market_id in by_id else {}
        if strict and not found:
            raise UnknownMarket(f"no market {'matches' if is_pattern(selector) else 'is'} {selector!r}")
        chosen.update(found)
    return chosen


def _id_of(selector: Selector, by_tag: dict[str, int]) -> int | None:
    if isinstance(selector, bool):
        return None
    if isinstance(selector, int):
        return selector
    text = selector.strip()
    if text.isdigit():
        return int(text)
    return by_tag.get(text.upper())
