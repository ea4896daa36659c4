"""Who may ask what of the API, decided before any route runs.

Browsers are the risk on a loopback service with no token: any page the
operator opens may send requests to 127.0.0.1, and a DNS-rebinding page may
even read the answers. So, in order:

1. the Host header must name this service (loopback names unless
   LEVEL4_ALLOWED_HOSTS says otherwise): a rebinding page sends its own name;
2. a CORS preflight is answered with the CORS headers only for an allowed
   origin (same origin, or listed in LEVEL4_CORS_ORIGINS);
3. a mutating request or a /stream connection from a page of another origin
   is refused: browsers send Origin on both;
4. with a token set, a mutating request needs it;
5. a mutating request's body must be JSON (Content-Type: application/json):
   plain forms and text/plain, which a page may send without a preflight,
   are refused before anything reads them.

https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS#simple_requests
(what a page may send without a preflight)
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from level4.api.allowed_hosts import ANY, LOOPBACK_NAMES, host_name, origin_of
from level4.api.auth import bearer, matches
from level4.api.http_errors import refusal

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFLIGHT_MAX_AGE = "600"


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Iterable[str] = LOOPBACK_NAMES,
        cors_origins: Iterable[str] = (),
        token: str | None = None,
    ) -> None:
        self.app = app
        hosts = {host_name(h) for h in allowed_hosts}
        self.any_host = ANY in hosts
        self.hosts = frozenset(hosts - {ANY})
        self.origins = frozenset(o for o in (origin_of(x) for x in cors_origins) if o is not None)
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self.any_host and host_name(host) not in self.hosts:
            detail = (
                f"Host {host[:100]!r} is not a name this service answers to; "
                "the operator lists the names clients use in LEVEL4_ALLOWED_HOSTS"
            )
            await self.refuse(scope, receive, send, refusal(scope, 400, "host_not_allowed", detail))
            return
        raw_origin = headers.get("origin")
        allowed = raw_origin is None or self.allows(raw_origin, host)
        method = scope.get("method", "GET")
        preflight = method == "OPTIONS" and "access-control-request-method" in headers
        if scope["type"] == "http" and preflight and raw_origin:
            if not allowed:
                detail = f"Origin {raw_origin[:100]!r} may not call this API; see LEVEL4_CORS_ORIGINS"
                await refusal(scope, 403, "origin_not_allowed", detail)(scope, receive, send)
                return
            await self.preflight(raw_origin)(scope, receive, send)
            return
        if not allowed and (scope["type"] == "websocket" or method in MUTATING):
            detail = f"Origin {raw_origin!s:.100} is another site's; it may not change or stream from this service"
            await self.refuse(scope, receive, send, refusal(scope, 403, "origin_not_allowed", detail))
            return
        if scope["type"] == "http" and method in MUTATING:
            answer = self.mutation(scope, headers)
            if answer is not None:
                await answer(scope, receive, send)
                return
        if raw_origin is not None and origin_of(raw_origin) in self.origins:
            send = self.with_cors(send, raw_origin)
        await self.app(scope, receive, send)

    def allows(self, raw_origin: str, host: str) -> bool:
        origin = origin_of(raw_origin)
        if origin is None:
            return False  # "null" (sandboxed pages, files) and nonsense
        return origin in self.origins or origin.partition("://")[2] == host.strip().lower()

    def mutation(self, scope: Scope, headers: Headers) -> Response | None:
        """The token and the content type of a mutating request: None when both are right."""
        if self.token is not None:
            supplied = bearer(scope["headers"])
            if not matches(supplied, self.token):
                detail = "missing bearer token" if supplied is None else "wrong bearer token"
                return refusal(scope, 401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})
        content_type = headers.get("content-type")
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        if content_type is None and not has_body and scope["method"] == "DELETE":
            return None  # nothing sent, nothing to check
        media = (content_type or "").partition(";")[0].strip().lower()
        if media != "application/json":
            detail = f"send the body as JSON with Content-Type: application/json, not {content_type or 'none'}"
            return refusal(scope, 415, "unsupported_media_type", detail[:200])
        return None

    def preflight(self, origin: str) -> Response:
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
            },
        )

    @staticmethod
    def with_cors(send: Send, origin: str) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
                message = {**message, "headers": headers}
            await send(message)

        return sending

    @staticmethod
    async def refuse(scope: Scope, receive: Receive, send: Send, answer: Response) -> None:
        """An HTTP answer; for a websocket, the same answer instead of the upgrade
        where the server can send one (else a plain refusal, which is a 403)."""
        if scope["type"] == "http":
            await answer(scope, receive, send)
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": answer.status_code, "headers": answer.raw_headers}
            )
            await send({"type": "websocket.http.response.body", "body": answer.body})
        else:
            await send({"type": "websocket.close", "code": 1008})
