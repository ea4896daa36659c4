"""The cluster's route: which nodes there are and which markets each runs."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from level4.api.http_errors import ApiError
from level4.api.jsonresponse import json_response
from level4.api.route_declaration import Answer, Endpoint, ref
from level4.cluster.cluster_view import ClusterView


async def get_cluster(request: Request) -> Response:
    view = cast(ClusterView | None, getattr(request.app.state, "cluster", None))
    if view is None:
        raise ApiError(404, "not_a_cluster", "this service runs as a single node (start it with LEVEL4_NODE or --node)")
    return json_response(view.describe())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/cluster",
        get_cluster,
        "This node's name, and every node of the cluster: its URL, whether it is live, its markets and load",
        (Answer(200, "The cluster", ref("Cluster")),),
        errors=(404,),
    ),
]
