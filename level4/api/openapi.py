"""The OpenAPI description of every route, written out by hand: the API is
small, and a literal spec is easier to keep exact than a generated one."""

from __future__ import annotations

from typing import Any

from level4 import __version__

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        401: "Missing or wrong bearer token",
        404: "Unknown id",
        409: "Duplicate",
        413: "Body too large",
        422: "Invalid body or query",
        503: "Database unavailable",
    }
    return {str(c): {"description": words[c], **_json(ERROR)} for c in codes}


REF = {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 1}]}
ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
# [price, size] decimal strings, plus the order count where the venue gives one (Bitfinex)
LEVEL = {
    "type": "array",
    "minItems": 2,
    "maxItems": 3,
    "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
}


def spec() -> dict[str, Any]:
    market = {"$ref": "#/components/schemas/Market"}
    mutating = (401, 413, 422, 503)
    return {
        "openapi": "3.0.3",
        "info": {"title": "level4", "version": __version__},
        "paths": {
            "/symbols": {
                "get": {
                    "summary": "List symbols",
                    "responses": {
                        "200": {
                            "description": "Symbols",
                            **_json({"type": "array", "items": {"$ref": "#/components/schemas/Symbol"}}),
                        },
                        **_errors(503),
                    },
                },
                "post": {
                    "summary": "Add a symbol",
                    "requestBody": {
                        "required": True,
                        **_json(
                            {
                                "type": "object",
                                "required": ["symbol"],
                                "additionalProperties": False,
                                "properties": {"symbol": {"type": "string", "minLength": 1, "maxLength": 32}},
                            }
                        ),
                    },
                    "responses": {
                        "201": {"description": "Created", **_json({"$ref": "#/components/schemas/Symbol"})},
                        **_errors(409, *mutating),
                    },
                },
            },
            "/exchanges": {
                "get": {
                    "summary": "List exchanges",
                    "responses": {
                        "200": {
                            "description": "Exchanges",
                            **_json({"type": "array", "items": {"$ref": "#/components/schemas/Exchange"}}),
                        },
                        **_errors(503),
                    },
                },
                "post": {
                    "summary": "Add an exchange (a venue level4 has a translation scheme for)",
                    "requestBody": {
                        "required": True,
                        **_json(
                            {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 32},
                                    "ws_url": {"type": "string", "nullable": True},
                                    "rest_url": {"type": "string", "nullable": True},
                                },
                            }
                        ),
                    },
                    "responses": {
                        "201": {"description": "Created", **_json({"$ref": "#/components/schemas/Exchange"})},
                        **_errors(409, *mutating),
                    },
                },
            },
            "/markets": {
                "get": {
                    "summary": "List markets, optionally by desired feed state",
                    "parameters": [
                        {"name": "enabled", "in": "query", "required": False, "schema": {"type": "boolean"}}
                    ],
                    "responses": {
                        "200": {"description": "Markets", **_json({"type": "array", "items": market})},
                        **_errors(422, 503),
                    },
                },
                "post": {
                    "summary": "Add a market",
                    "requestBody": {
                        "required": True,
                        **_json(
                            {
                                "type": "object",
                                "required": ["exchange", "base_symbol", "quote_symbol"],
                                "additionalProperties": False,
                                "properties": {
                                    "exchange": REF,
                                    "base_symbol": REF,
                                    "quote_symbol": REF,
                                    "market_type": {"type": "string", "enum": ["SPOT", "PERP", "FUTURE", "OPTION"]},
                                    "instrument": {"type": "string", "maxLength": 100},
                                },
                            }
                        ),
                    },
                    "responses": {"201": {"description": "Created", **_json(market)}, **_errors(404, 409, *mutating)},
                },
            },
            "/markets/{id}": {
                "parameters": [ID_PARAM],
                "get": {
                    "summary": "One market with its desired and actual state",
                    "responses": {"200": {"description": "Market", **_json(market)}, **_errors(404, 503)},
                },
                "patch": {
                    "summary": "Switch the market's feed on or off",
                    "requestBody": {
                        "required": True,
                        **_json(
                            {
                                "type": "object",
                                "required": ["level4_feed_enabled"],
                                "additionalProperties": False,
                                "properties": {"level4_feed_enabled": {"type": "boolean"}},
                            }
                        ),
                    },
                    "responses": {"200": {"description": "Market", **_json(market)}, **_errors(404, *mutating)},
                },
                "delete": {
                    "summary": "Stop and remove a market",
                    "responses": {"204": {"description": "Deleted"}, **_errors(404, 401, 503)},
                },
            },
            "/markets/{id}/book": {
                "parameters": [ID_PARAM],
                "get": {
                    "summary": "The market's current order book, best first",
                    "parameters": [
                        {
                            "name": "depth",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100000},
                        }
                    ],
                    "responses": {
                        "200": {"description": "Book", **_json({"$ref": "#/components/schemas/Book"})},
                        **_errors(404, 422, 503),
                    },
                },
            },
            "/health": {
                "get": {
                    "summary": "Database reachability and markets that are not live",
                    "responses": {
                        "200": {"description": "Healthy", **_json({"type": "object"})},
                        "503": {"description": "Database unavailable", **_json({"type": "object"})},
                    },
                }
            },
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
            **downstream_paths(),
            **operator_paths(),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {
                        "error": {"type": "string"},
                        "detail": {"type": "string"},
                        "field": {"type": "string"},
                    },
                },
                "Symbol": {"type": "object", "properties": {"id": {"type": "integer"}, "symbol": {"type": "string"}}},
                "Exchange": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "ws_url": {"type": "string", "nullable": True},
                        "rest_url": {"type": "string", "nullable": True},
                    },
                },
                "Market": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "tag": {"type": "string"},
                        "exchange": {"type": "string"},
                        "base_symbol": {"type": "string"},
                        "quote_symbol": {"type": "string"},
                        "market_type": {"type": "string"},
                        "instrument": {"type": "string"},
                        "level4_feed_enabled": {"type": "boolean"},
                        "status": {
                            "type": "string",
                            "enum": ["stopped", "connecting", "synchronising", "live", "reconnecting", "failed"],
                        },
                        "status_reason": {"type": "string", "nullable": True},
                    },
                },
                "Book": {
                    "type": "object",
                    "properties": {
                        "market": {"type": "string"},
                        "synchronised": {"type": "boolean"},
                        "bids": {"type": "array", "items": LEVEL},
                        "asks": {"type": "array", "items": LEVEL},
                        "reason": {"type": "string", "nullable": True},
                    },
                },
                **downstream_schemas(),
            },
        },
    }


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


STREAM = """Websocket (JSON text messages). Send
`{"op": "subscribe"|"unsubscribe", "markets": [id, tag, "BASE-QUOTE", ...],
"channels": ["top", "trade", "book", "status", "consolidated"], "equivalent"?: [quotes], "id"?: any}`.
Replies: `{"type": "subscribed"|"unsubscribed", ...}`, `{"type": "error", "error", "detail"}`; events carry
`channel`. A book subscription starts with a snapshot whose `sequence` is the last event it covers.
With LEVEL4_API_TOKEN set, send `Authorization: Bearer <token>` or `?token=`. A client with more
than LEVEL4_STREAM_QUEUE messages unsent is closed with code 1008 and the reason. See README.org."""


def downstream_paths() -> dict[str, Any]:
    return {
        "/markets/{id}/top": {
            "parameters": [ID_PARAM],
            "get": {
                "summary": "The market's best bid and ask, spread and mid, from its last top event",
                "responses": {"200": {"description": "Top of book", **_json(_ref("Top"))}, **_errors(404, 503)},
            },
        },
        "/markets/{id}/trades": {
            "parameters": [ID_PARAM],
            "get": {
                "summary": "Recent trades, the newest first (up to 1000 kept per market)",
                "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})],
                "responses": {"200": {"description": "Trades", **_json(_ref("Trades"))}, **_errors(404, 422, 503)},
            },
        },
        "/markets/{id}/candles": {
            "parameters": [ID_PARAM],
            "get": {
                "summary": "OHLCV candles from the market's trades, oldest first; the last may be open",
                "parameters": [
                    _query("interval", {"type": "string", "enum": ["1m", "5m", "15m", "1h"], "default": "1m"}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 720}),
                ],
                "responses": {"200": {"description": "Candles", **_json(_ref("Candles"))}, **_errors(404, 422, 503)},
            },
        },
        "/books/{pair}": {
            "parameters": [
                {
                    "name": "pair",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "example": "BTC-USD"},
                    "description": "BASE-QUOTE",
                }
            ],
            "get": {
                "summary": "The consolidated book: every synchronised market of the pair merged into one ladder",
                "parameters": [
                    _query("depth", {"type": "integer", "minimum": 1, "maximum": 100000}, "levels a side (all)"),
                    _query("type", {"type": "string", "enum": ["SPOT", "PERP"], "default": "SPOT"}),
                    _query("equivalent", {"type": "string", "example": "USD,USDT,USDC"}, "quotes to treat as one"),
                ],
                "responses": {
                    "200": {"description": "Consolidated book", **_json(_ref("ConsolidatedBook"))},
                    **_errors(404, 422, 503),
                },
            },
        },
        "/stream": {
            "get": {
                "summary": "Event stream (websocket upgrade)",
                "description": STREAM,
                "parameters": [_query("token", {"type": "string"}, "the API token, when not sent as a header")],
                "responses": {"101": {"description": "Switching to the websocket protocol"}},
            }
        },
    }


def downstream_schemas() -> dict[str, Any]:
    level = {"type": "array", "items": {"type": "string"}, "nullable": True, "description": "[price, size]"}
    merged = {
        "type": "object",
        "properties": {
            "price": {"type": "string"},
            "size": {"type": "string", "description": "total over the venues"},
            "venues": {"type": "object", "additionalProperties": {"type": "string"}, "description": "tag -> size"},
        },
    }
    return {
        "Top": {
            "type": "object",
            "properties": {
                "market": {"type": "string"},
                "synchronised": {"type": "boolean"},
                "bid": level,
                "ask": level,
                "spread": {"type": "string", "nullable": True},
                "mid": {"type": "string", "nullable": True},
                "sequence": {"type": "integer", "nullable": True},
                "venue_time": {"type": "number", "nullable": True},
                "received_at": {"type": "number", "nullable": True},
            },
        },
        "Trades": {
            "type": "object",
            "properties": {
                "market": {"type": "string"},
                "trades": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "sequence": {"type": "integer"},
                            "trade_id": {"type": "string", "nullable": True},
                            "side": {"type": "string", "nullable": True},
                            "price": {"type": "string"},
                            "size": {"type": "string"},
                            "venue_time": {"type": "number", "nullable": True},
                            "received_at": {"type": "number"},
                        },
                    },
                },
            },
        },
        "Candles": {
            "type": "object",
            "properties": {
                "market": {"type": "string"},
                "interval": {"type": "string"},
                "candles": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "start": {"type": "integer"},
                            "end": {"type": "integer"},
                            "open": {"type": "string"},
                            "high": {"type": "string"},
                            "low": {"type": "string"},
                            "close": {"type": "string"},
                            "volume": {"type": "string"},
                            "trades": {"type": "integer"},
                        },
                    },
                },
            },
        },
        "ConsolidatedBook": {
            "type": "object",
            "properties": {
                "pair": {"type": "string"},
                "market_type": {"type": "string"},
                "quotes": {"type": "array", "items": {"type": "string"}},
                "depth": {"type": "integer", "nullable": True},
                "markets": {"type": "array", "items": {"type": "object"}, "description": "merged: id, market"},
                "excluded": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "left out, not synchronised: id, market, status, reason",
                },
                "best_bid": {**merged, "nullable": True},
                "best_ask": {**merged, "nullable": True},
                "crossed": {"type": "boolean"},
                "crossings": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "bid_market": {"type": "string"},
                            "bid": {"type": "string"},
                            "ask_market": {"type": "string"},
                            "ask": {"type": "string"},
                        },
                    },
                },
                "bids": {"type": "array", "items": merged},
                "asks": {"type": "array", "items": merged},
            },
        },
    }


def _text(*media_types: str) -> dict[str, Any]:
    return {"content": {m: {"schema": {"type": "string"}} for m in media_types}}


def operator_paths() -> dict[str, Any]:
    """The dashboard page and its files, and the Prometheus metrics."""
    return {
        "/": {
            "get": {
                "summary": "The dashboard: markets, books, trades and the consolidated book, live",
                "responses": {"200": {"description": "The page", **_text("text/html")}},
            }
        },
        "/dashboard/{path}": {
            "parameters": [
                {
                    "name": "path",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*[.](js|css|svg|html)$"},
                    "example": "js/main.js",
                }
            ],
            "get": {
                "summary": "The dashboard's scripts and style sheet",
                "responses": {
                    "200": {"description": "A file", **_text("text/javascript", "text/css", "text/html")},
                    **_errors(404),
                },
            },
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: frames, events, resyncs, reconnects, checksum failures, "
                "market status, receipt-to-publish latency, /stream clients, sinks",
                "responses": {
                    "200": {
                        "description": "Prometheus text format (OpenMetrics when asked for in Accept)",
                        **_text("text/plain", "application/openmetrics-text"),
                    }
                },
            }
        },
    }
