"""Every error the API answers with is JSON: {"error": code, "detail": sentence}."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from level4.api.jsonresponse import json_response


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = extra

    def response(self) -> Response:
        return json_response({"error": self.error, "detail": self.detail, **self.extra}, self.status)


def invalid(field: str, why: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {why}", field=field)
