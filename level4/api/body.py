"""Reading and checking request bodies: every refusal names the field and why."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from level4.api.http_errors import ApiError, invalid

MAX_BODY = 64 * 1024  # control bodies are tiny; anything larger is refused unread


async def json_object(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ApiError(413, "too_large", f"request bodies are limited to {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "too_large", f"request bodies are limited to {MAX_BODY} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(422, "invalid_json", "the request body is empty; a JSON object is expected")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_json", f"a JSON object is expected, not {type(body).__name__}")
    return body


def no_unknown_fields(body: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise invalid(extra[0], f"unknown field; allowed fields are {', '.join(sorted(allowed))}")


def string(body: dict[str, Any], name: str, required: bool = True, max_len: int = 200) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(name, "is required")
        return None
    if not isinstance(value, str):
        raise invalid(name, f"must be a string, not {type(value).__name__}")
    value = value.strip()
    if not value:
        raise invalid(name, "must not be empty")
    if len(value) > max_len:
        raise invalid(name, f"must be at most {max_len} characters")
    return value


def name_or_id(body: dict[str, Any], name: str) -> str | int:
    """A catalogue reference: a name (string) or an id (positive integer)."""
    value = body.get(name)
    if value is None:
        raise invalid(name, "is required (a name or an id)")
    if isinstance(value, bool):
        raise invalid(name, "must be a name or an id, not a boolean")
    if isinstance(value, int):
        if not 0 < value < 2**63:
            raise invalid(name, "ids are positive 64-bit integers")
        return value
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise invalid(name, f"must be a name or an id, not {type(value).__name__}")


def boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise invalid(name, "is required and must be true or false")
    return value


def path_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", f"no market with id {raw[:40]!r}")
    return int(raw)


def query_int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid(name, f"must be an integer from {low} to {high}")
    return int(raw)


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise invalid(name, "must be true or false")
