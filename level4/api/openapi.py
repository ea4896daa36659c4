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
                        "bids": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                        "asks": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                    },
                },
            },
        },
    }
