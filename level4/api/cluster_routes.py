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


ENDPOINTS = [
    Endpoint(
        "GET",
        "/cluster",
        get_cluster,
        "This node's name, and every node of the cluster: its URL, whether it is live, its markets and load "
        "(a single node: no name and no nodes)",
        (Answer(200, "The cluster", ref("Cluster")),),
    ),
]
