"""The shapes of the API's answers, as JSON Schema components of /openapi.json."""

from __future__ import annotations

from typing import Any

from level4.market.status_board import Status

# [price, size] decimal strings, plus the order count where the venue gives one (Bitfinex)
LEVEL = {
    "type": "array",
    "minItems": 2,
    "maxItems": 3,
    "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
}
TOP_LEVEL = {"type": "array", "items": {"type": "string"}, "nullable": True, "description": "[price, size]"}
MERGED = {
    "type": "object",
    "properties": {
        "price": {"type": "string"},
        "size": {"type": "string", "description": "total over the venues"},
        "venues": {"type": "object", "additionalProperties": {"type": "string"}, "description": "tag -> size"},
    },
}


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


STRING: dict[str, Any] = {"type": "string"}
NULLABLE_STRING: dict[str, Any] = {"type": "string", "nullable": True}
INTEGER: dict[str, Any] = {"type": "integer"}
NULLABLE_NUMBER: dict[str, Any] = {"type": "number", "nullable": True}
BOOLEAN: dict[str, Any] = {"type": "boolean"}


NUMBER: dict[str, Any] = {"type": "number"}


def _window(what: str, **more: dict[str, Any]) -> dict[str, Any]:
    """One of a venue's limits: what was used of it in its window, what is left, who waits."""
    return {
        **_object(used=NUMBER, limit=INTEGER, window_seconds=NUMBER, left=NUMBER, queued=INTEGER, **more),
        "description": what,
    }


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {"error": STRING, "detail": STRING, "field": STRING},
    },
    "Symbol": _object(id=INTEGER, symbol=STRING),
    "Exchange": _object(id=INTEGER, name=STRING, ws_url=NULLABLE_STRING, rest_url=NULLABLE_STRING),
    "Instrument": _object(
        symbol=STRING,
        base=STRING,
        quote=STRING,
        type=STRING,
        api=STRING,
        tick_size=NULLABLE_STRING,
        lot_size=NULLABLE_STRING,
        expiry=NULLABLE_NUMBER,
        trading=BOOLEAN,
    ),
    "Instruments": _object(
        exchange=STRING,
        instruments={"type": "array", "items": {"$ref": "#/components/schemas/Instrument"}},
        unavailable={"type": "array", "items": _object(api=STRING, reason=STRING)},
        age_seconds={"type": "number"},
        refresh_error=NULLABLE_STRING,
    ),
    "ListedMarkets": _object(
        exchange=STRING,
        created={"type": "array", "items": INTEGER},
        existing={"type": "array", "items": INTEGER},
        enabled=INTEGER,
        failed={"type": "array", "items": _object(symbol=STRING, reason=STRING)},
        unavailable={"type": "array", "items": _object(api=STRING, reason=STRING)},
    ),
    "Market": _object(
        id=INTEGER,
        tag=STRING,
        exchange=STRING,
        base_symbol=STRING,
        quote_symbol=STRING,
        market_type=STRING,
        instrument=STRING,
        level4_feed_enabled=BOOLEAN,
        status={"type": "string", "enum": [str(s) for s in Status]},
        status_reason=NULLABLE_STRING,
        node=NULLABLE_STRING,
        epoch=INTEGER,
    ),
    "Cluster": _object(
        node=NULLABLE_STRING,
        nodes={
            "type": "array",
            "items": _object(
                name=STRING,
                url=STRING,
                alive=BOOLEAN,
                last_seen=STRING,
                markets={"type": "array", "items": INTEGER},
                load={"type": "number"},
            ),
        },
    ),
    "ClusterStatuses": _object(
        node=NULLABLE_STRING,
        markets={
            "type": "array",
            "items": _object(
                id=INTEGER,
                epoch=INTEGER,
                status={"type": "string", "enum": [str(s) for s in Status]},
                status_reason=NULLABLE_STRING,
                connection=NULLABLE_STRING,
            ),
        },
    ),
    "Book": _object(
        market=STRING,
        synchronised=BOOLEAN,
        bids={"type": "array", "items": LEVEL},
        asks={"type": "array", "items": LEVEL},
        reason=NULLABLE_STRING,
    ),
    "Top": _object(
        market=STRING,
        synchronised=BOOLEAN,
        bid=TOP_LEVEL,
        ask=TOP_LEVEL,
        spread=NULLABLE_STRING,
        mid=NULLABLE_STRING,
        sequence={"type": "integer", "nullable": True},
        venue_time=NULLABLE_NUMBER,
        received_at=NULLABLE_NUMBER,
    ),
    "Trades": _object(
        market=STRING,
        trades={
            "type": "array",
            "items": _object(
                sequence=INTEGER,
                trade_id=NULLABLE_STRING,
                side=NULLABLE_STRING,
                price=STRING,
                size=STRING,
                venue_time=NULLABLE_NUMBER,
                received_at={"type": "number"},
            ),
        },
    ),
    "Candles": _object(
        market=STRING,
        interval=STRING,
        candles={
            "type": "array",
            "items": _object(
                start=INTEGER,
                end=INTEGER,
                open=STRING,
                high=STRING,
                low=STRING,
                close=STRING,
                volume=STRING,
                trades=INTEGER,
            ),
        },
    ),
    "Venue": _object(
        venue=STRING,
        api={**STRING, "description": "which of the venue's APIs (empty: its first)"},
        egress={**STRING, "description": "the egress address its limits count on (empty: the default route)"},
        connections={
            "type": "array",
            "items": _object(
                name=STRING,
                url=STRING,
                shared={**BOOLEAN, "description": "false: a market's connection of its own"},
                state={"type": "string", "enum": ["connecting", "open", "closed"]},
                subscriptions={**INTEGER, "description": "markets riding on it"},
                subscribed={**INTEGER, "description": "of them, subscribed at the venue now"},
                cap={**INTEGER, "description": "markets it may carry"},
                resubscribes=INTEGER,
            ),
        },
        limiter={
            **_object(
                connect=_window("connection attempts in the window"),
                send=_window("frames sent in the last second, on the busiest connection", connections=INTEGER),
                rest=_window("REST weight in the window"),
                backoff={
                    **_object(seconds=NUMBER, until=NUMBER, reason=STRING),
                    "nullable": True,
                    "description": "the venue refused (HTTP 429/418, a throttling close): "
                    "no connect or REST call until then",
                },
                totals={"type": "object", "additionalProperties": NUMBER},
            ),
            "nullable": True,
        },
    ),
    "ConsolidatedBook": _object(
        pair=STRING,
        market_type=STRING,
        quotes={"type": "array", "items": STRING},
        depth={"type": "integer", "nullable": True},
        markets={"type": "array", "items": {"type": "object"}, "description": "merged: id, market"},
        excluded={
            "type": "array",
            "items": {"type": "object"},
            "description": "left out, not synchronised: id, market, status, reason",
        },
        best_bid={**MERGED, "nullable": True},
        best_ask={**MERGED, "nullable": True},
        crossed=BOOLEAN,
        crossings={
            "type": "array",
            "items": _object(bid_market=STRING, bid=STRING, ask_market=STRING, ask=STRING),
        },
        bids={"type": "array", "items": MERGED},
        asks={"type": "array", "items": MERGED},
    ),
}
