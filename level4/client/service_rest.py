"""The REST side of the service that the client uses: the market list (to
resolve tags and patterns) and a market's top. Errors become the client's
exceptions."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from level4.client.client_errors import ServiceUnavailable, Unauthorized, UnknownMarket


def stream_url(base: str) -> str:
    """`http://host:port` -> `ws://host:port/stream`; https gives wss."""
    base = base.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/stream"
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://") + "/stream"
    raise ValueError(f"the service's URL must start with http:// or https://, not {base!r}")


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class ServiceRest:
    def __init__(self, base: str, token: str | None, context: ssl.SSLContext | None, timeout: float) -> None:
        stream_url(base)  # checks the scheme
        verify: ssl.SSLContext | bool = context if context is not None else True
        self.http = httpx.AsyncClient(
            base_url=base.rstrip("/"), headers=auth_headers(token), verify=verify, timeout=timeout
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def markets(self) -> list[dict[str, Any]]:
        body = await self._get("/markets")
        if not isinstance(body, list):
            raise ServiceUnavailable(f"GET /markets answered {type(body).__name__}, not a list")
        return body

    async def top(self, market_id: int) -> dict[str, Any]:
        body = await self._get(f"/markets/{market_id}/top")
        assert isinstance(body, dict)
        return body

    async def _get(self, path: str) -> Any:
        try:
            response = await self.http.get(path)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"GET {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise Unauthorized(f"GET {path}: {_detail(response)}")
        if response.status_code == 404:
            raise UnknownMarket(f"GET {path}: {_detail(response)}")
        if response.status_code != 200:
            raise ServiceUnavailable(f"GET {path}: {response.status_code} {_detail(response)}")
        return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.text[:200]
