"""Each venue API's connections and limiter, as one answer for GET /venues and
the dashboard's Venues panel: which connections are open, how many markets
ride on each against its cap, and how close the process is to each of the
venue's limits (connects, sends, REST weight), who waits, and any backoff
the venue imposed, with its reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from level4.net import connection_pool, venue_limiter

Key = tuple[str, str, str]  # venue, API, egress address


def limiter_view(state: dict[str, Any]) -> dict[str, Any]:
    """A limiter's state (VenueLimiter.state) as the route tells it."""
    windows, queued = state["windows"], state["queued"]
    view: dict[str, Any] = {}
    for kind in ("connect", "send", "rest"):
        w = windows[kind]
        view[kind] = {
            "used": w["used"],
            "limit": w["limit"],
            "window_seconds": w["window"],
            "left": max(0.0, w["limit"] - w["used"]),
            "queued": queued[kind],
        }
    view["send"]["connections"] = state["send_connections"]  # "used": on the busiest of them
    remaining = state["backoff_remaining"]
    view["backoff"] = (
        {"seconds": remaining, "until": state["backoff_until"], "reason": state["backoff_reason"]}
        if remaining > 0
        else None
    )
    view["totals"] = state["totals"]
    return view


def _connection_view(conn: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": conn["connection"],
        "url": conn["url"],
        "shared": conn["shared"],
        "state": conn["state"],
        "subscriptions": conn["subscriptions"],
        "subscribed": conn["subscribed"],
        "cap": conn["capacity"],
        "resubscribes": conn["resubscribes"],
    }


def venues(
    limiters: Callable[[], list[venue_limiter.VenueLimiter]] = venue_limiter.limiters,
    connections: Callable[[], list[dict[str, Any]]] = connection_pool.connections,
) -> list[dict[str, Any]]:
    """One entry per venue API and egress address the process has paced or connected to."""
    out: dict[Key, dict[str, Any]] = {}

    def entry(key: Key) -> dict[str, Any]:
        if key not in out:
            out[key] = {"venue": key[0], "api": key[1], "egress": key[2], "connections": [], "limiter": None}
        return out[key]

    for limiter in limiters():
        entry((limiter.venue, limiter.api, limiter.egress))["limiter"] = limiter_view(limiter.state())
    for conn in connections():
        # Connections go out by the default route today: egress "" (see the limiter's egress).
        entry((str(conn["venue"]).upper(), str(conn["api"]), ""))["connections"].append(_connection_view(conn))
    for item in out.values():
        item["connections"].sort(key=lambda c: not c["shared"])  # shared first, each in its pool's order
    return [out[key] for key in sorted(out)]
