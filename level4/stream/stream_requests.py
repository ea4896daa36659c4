"""The /stream request language: parsing and checking what a client sends.

    {"op": "subscribe" | "unsubscribe",
     "markets": [id | tag | "BASE-QUOTE" | "TYPE:BASE-QUOTE", ...],
     "channels": ["top", "trade", "book", "status", "consolidated"],
     "equivalent": ["USDT", "USDC"],      optional, for consolidated pairs
     "id": anything}                      optional, echoed in the reply

Every refusal is a StreamError naming what was wrong; the connection stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

MARKET_CHANNELS = ("top", "trade", "book", "status")
CHANNELS = (*MARKET_CHANNELS, "consolidated")
OPS = ("subscribe", "unsubscribe")
FIELDS = {"op", "markets", "channels", "equivalent", "id"}
MAX_REQUEST = 64 * 1024
MAX_ENTRIES = 1000


class StreamError(Exception):
    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Request:
    op: str
    markets: tuple[int | str, ...]
    channels: frozenset[str]
    equivalent: tuple[str, ...]
    id: Any = None


def request_id(raw: str | bytes) -> Any:
    """The client's `id`, when the request is readable enough to have one."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return body.get("id") if isinstance(body, dict) else None


def parse(raw: str | bytes) -> Request:
    if len(raw) > MAX_REQUEST:
        raise StreamError("too_large", f"requests are limited to {MAX_REQUEST} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StreamError("invalid_json", f"the request is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise StreamError("invalid_json", f"a JSON object is expected, not {type(body).__name__}")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise StreamError("invalid", f"{unknown[0]}: unknown field; allowed fields are {', '.join(sorted(FIELDS))}")
    op = body.get("op")
    if op not in OPS:
        raise StreamError("invalid", f"op: must be one of {', '.join(OPS)}")
    markets = body.get("markets")
    if not isinstance(markets, list) or not markets:
        raise StreamError("invalid", "markets: must be a non-empty list of market ids, tags or BASE-QUOTE pairs")
    if len(markets) > MAX_ENTRIES:
        raise StreamError("invalid", f"markets: at most {MAX_ENTRIES} entries")
    for entry in markets:
        if isinstance(entry, bool) or not isinstance(entry, int | str):
            raise StreamError("invalid", f"markets: {entry!r} is neither a market id nor a tag or pair")
        if isinstance(entry, int) and not 0 < entry < 2**63:
            raise StreamError("invalid", f"markets: {entry} is not a market id")
        if isinstance(entry, str) and not 0 < len(entry.strip()) <= 100:
            raise StreamError("invalid", "markets: tags and pairs are 1 to 100 characters")
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise StreamError("invalid", f"channels: must be a non-empty list of {', '.join(CHANNELS)}")
    bad = sorted(set(channels) - set(CHANNELS))
    if bad:
        raise StreamError("invalid", f"channels: unknown channel {bad[0]!r}; channels are {', '.join(CHANNELS)}")
    equivalent = body.get("equivalent", [])
    if not isinstance(equivalent, list) or not all(isinstance(q, str) and 0 < len(q) <= 32 for q in equivalent):
        raise StreamError("invalid", "equivalent: must be a list of quote symbols")
    if equivalent and "consolidated" not in channels:
        raise StreamError("invalid", "equivalent: only applies to the consolidated channel")
    return Request(
        op,
        tuple(e.strip() if isinstance(e, str) else e for e in markets),
        frozenset(channels),
        tuple(q.upper() for q in equivalent),
        body.get("id"),
    )


def is_tag(entry: str) -> bool:
    """`VENUE.TYPE:...` names a market; `BASE-QUOTE` or `TYPE:BASE-QUOTE` a pair."""
    head, sep, _ = entry.partition(":")
    return bool(sep) and "." in head
