"""A market's live data asked of a node that does not run it: answered by the
node that does (its owner), forwarded over HTTP with the same path, query and
token, so the answer has the same shape and the same exactness as the owner's.

A forwarded request is marked; a node that receives one for a market it does
not run (the market moved meanwhile) answers 503 rather than forwarding again,
so a request never goes round the cluster.
"""

from __future__ import annotations

from typing import cast

import httpx
import structlog
from starlette.requests import Request
from starlette.responses import Response

from level4.api.http_errors import ApiError
from level4.cluster.cluster_view import ClusterView

log = structlog.get_logger(__name__)

FORWARDED = "x-level4-forwarded-by"
ANSWERED_BY = "x-level4-node"
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
_PASSED = ("authorization", "accept")


def _client(request: Request) -> httpx.AsyncClient:
    client = getattr(request.app.state, "forwarding_client", None)
    if client is None:
        client = request.app.state.forwarding_client = httpx.AsyncClient(timeout=TIMEOUT)
    return cast(httpx.AsyncClient, client)


async def from_owner(request: Request, market_id: int) -> Response | None:
    """The owner's answer when another node runs the market; None when this node
    answers itself (it runs the market, it is no cluster, or the market is not enabled)."""
    view = cast(ClusterView | None, getattr(request.app.state, "cluster", None))
    if view is None or view.runs_here(market_id):
        return None
    owner = view.owner(market_id)
    if request.headers.get(FORWARDED) is not None:
        raise ApiError(503, "moving", f"market {market_id} is not run by node {view.node} any more; ask again")
    if owner is None or owner[0] == view.node:
        if view.enabled(market_id):
            raise ApiError(503, "no_owner", f"no live node runs market {market_id} at the moment; ask again shortly")
        return None  # disabled or unknown: this node's own answer says so
    url = view.owner_url(market_id)
    if url is None:
        raise ApiError(503, "no_owner", f"market {market_id}'s node {owner[0]} is not live; ask again shortly")
    headers = {k: v for k, v in request.headers.items() if k in _PASSED}
    headers[FORWARDED] = view.node
    target = url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        answer = await _client(request).get(target, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("forward_failed", market_id=market_id, owner=owner[0], reason=type(exc).__name__)
        raise ApiError(503, "no_owner", f"market {market_id}'s node {owner[0]} did not answer; ask again") from None
    out = {"Content-Type": answer.headers.get("content-type", "application/json"), ANSWERED_BY: owner[0]}
    return Response(answer.content, status_code=answer.status_code, headers=out)
