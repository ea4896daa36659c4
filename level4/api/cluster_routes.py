"""The cluster's route: which nodes there are and which markets each runs."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from level4.api.jsonresponse import json_response
from level4.api.route_declaration import Answer, Endpoint, ref
from level4.cluster.cluster_view import ClusterView


async def get_cluster(request: Request) -> Response:
    view = cast(ClusterView | None, getattr(request.app.state, "cluster", None))
    if view is None:  # a single node: no name, no other nodes
        return json_response({"node": None, "nodes": []})
    return json_response(view.describe())


async def get_statuses(request: Request) -> Response:
    """The markets this node runs and their status on its board: what the other nodes'
    status pollers ask, so that every node tells the owner's status."""
    view = cast(ClusterView | None, getattr(request.app.state, "cluster", None))
    if view is None:
        return json_response({"node": None, "markets": []})
    board = request.app.state.control.board
    markets = []
    for market_id, epoch in sorted(view.mine().items()):
        state = board.get(market_id)
        markets.append(
            {
                "id": market_id,
                "epoch": epoch,
                "status": str(state.status),
                "status_reason": state.reason,
                "connection": state.connection,
            }
        )
    return json_response({"node": view.node, "markets": markets})


ENDPOINTS = [
    Endpoint(
        "GET",
        "/cluster",
        get_cluster,
        "This node's name, and every node of the cluster: its URL, whether it is live, its markets and load "
        "(a single node: no name and no nodes)",
        (Answer(200, "The cluster", ref("Cluster")),),
    ),
    Endpoint(
        "GET",
        "/cluster/statuses",
        get_statuses,
        "The markets this node runs, each with its epoch and status here: what the other nodes ask so that "
        "GET /markets on any node tells the owner's status (a single node: no name and no markets)",
        (Answer(200, "This node's markets and their status", ref("ClusterStatuses")),),
    ),
]
