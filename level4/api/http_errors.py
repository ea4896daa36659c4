"""Every error the API answers with is JSON: {"error": code, "detail": sentence}.

A refusal is the client's mistake, not the service's: it is logged as one
line at info, without a traceback (those are for server faults)."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.responses import Response
from starlette.types import Scope

from level4.api.jsonresponse import json_response

log = structlog.get_logger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = extra


def invalid(field: str, why: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {why}", field=field)


def refusal(
    scope: Scope, status: int, error: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """The answer to a request refused as the client's mistake, logged once."""
    log.info(
        "request_refused",
        method=scope.get("method", "GET" if scope["type"] == "websocket" else None),
        path=scope.get("path"),
        status=status,
        error=error,
        detail=detail,
    )
    return json_response({"error": error, "detail": detail, **extra}, status, headers)
