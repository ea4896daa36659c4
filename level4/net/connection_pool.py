"""The venue connections markets share: one pool per venue and endpoint, on
the IO loop; and, so that every venue connection of the process can be told,
the connections of markets that have one of their own.

A market joining takes a place on an open connection with room (and without
its symbol: one subscription per symbol a connection), else a new connection
opens; leaving unsubscribes it, and the last market to leave closes the
connection. Everything here runs on the IO loop thread; other threads call
in through `IOLoop.call` / `IOLoop.submit` (see the websocket actor).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import structlog

from level4.net.ioloop import IOLoop
from level4.net.shared_connection import SharedConnection, Subscription
from level4.net.subscription_caps import SharingCaps, caps_for
from level4.net.venue_connection import FeedConnection

log = structlog.get_logger(__name__)

PoolKey = tuple[str, str, str]  # venue, websocket URL, REST URL


def shares_connections(scheme: Any) -> bool:
    """Schemes that can route frames to markets share connections; the others
    keep a connection per market."""
    return all(callable(getattr(scheme, name, None)) for name in ("route", "connection_state", "unsubscribe_msg"))


class ConnectionPool:
    def __init__(self, scheme: Any, url: str, rest_url: str, caps: SharingCaps) -> None:
        self.scheme = scheme
        self.url = url
        self.rest_url = rest_url
        self.caps = caps
        self.connections: list[SharedConnection] = []

    def join(self, sub: Subscription) -> None:
        self.connections = [c for c in self.connections if not c.done or c.subs]
        for conn in self.connections:
            if not conn.done and conn.room() > 0 and sub.symbol not in conn.subs:
                conn.add(sub)
                return
        conn = SharedConnection(self.scheme, self.url, self.rest_url, self.caps)
        self.connections.append(conn)
        conn.add(sub)
        conn.start()
        log.info("shared_connection_started", market=conn.name, url=self.url, capacity=self.caps.markets_per_connection)

    async def leave(self, sub: Subscription) -> None:
        conn = sub.connection
        if conn is None:
            return
        conn.remove(sub)
        if not conn.subs:
            if conn in self.connections:
                self.connections.remove(conn)
            await conn.close()
            log.info("shared_connection_closed", market=conn.name, url=self.url)


_pools: dict[PoolKey, ConnectionPool] = {}


def _pool(scheme: Any, url: str, rest_url: str, configured_cap: int | None) -> ConnectionPool:
    key = (str(scheme.name), url, rest_url)
    pool = _pools.get(key)
    if pool is None:
        pool = _pools[key] = ConnectionPool(scheme, url, rest_url, caps_for(scheme, configured_cap))
    return pool


# --- called on the IO loop -----------------------------------------------------------


def join(scheme: Any, url: str, rest_url: str, sub: Subscription, configured_cap: int | None = None) -> None:
    _pool(scheme, url, rest_url, configured_cap).join(sub)


async def leave(scheme: Any, url: str, rest_url: str, sub: Subscription) -> None:
    key = (str(scheme.name), url, rest_url)
    pool = _pools.get(key)
    if pool is not None:
        await pool.leave(sub)
        # Markets leaving together each wait for their connection's close: the first back drops the pool.
        if not pool.connections and _pools.get(key) is pool:
            del _pools[key]


def resubscribe(sub: Subscription, reason: str) -> None:
    """Resynchronise this one market on its connection (see SharedConnection.resubscribe)."""
    if sub.connection is not None:
        sub.connection.resubscribe(sub, reason)


def synchronised(sub: Subscription) -> None:
    """A market on the connection synchronised: the connection is good, so its reconnect
    backoff starts afresh and a cut reconnects at once (level4.net.backoff)."""
    if sub.connection is not None:
        sub.connection.feed.synchronised()


def send(sub: Subscription, generation: int, frames: list[str | bytes]) -> None:
    if sub.connection is not None:
        sub.connection.send(sub, generation, frames)


def fetch(sub: Subscription, symbol: str, path: str) -> None:
    if sub.connection is not None:
        sub.connection.fetch(symbol, path)


# Markets whose venue cannot route frames to markets: one connection each (feed -> venue, API, market tag).
_own: dict[FeedConnection, tuple[str, str, str]] = {}


def opened_own(scheme: Any, feed: FeedConnection, tag: str) -> None:
    _own[feed] = (str(scheme.name), str(scheme.api), tag)


def closed_own(feed: FeedConnection) -> None:
    _own.pop(feed, None)


def _describe_own(feed: FeedConnection, api: str, tag: str) -> dict[str, Any]:
    return {
        "connection": tag,
        "api": api,
        "url": feed.url,
        "shared": False,
        "state": "open" if feed.is_open else "connecting",
        "open": feed.is_open,
        "subscriptions": 1,
        "subscribed": 1 if feed.is_open else 0,
        "capacity": 1,
        "resubscribes": 0,
    }


async def _describe() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for (venue, _url, _rest), pool in sorted(_pools.items()):
        for conn in pool.connections:
            out.append({"venue": venue, **conn.describe()})
    for feed, (venue, api, tag) in sorted(_own.items(), key=lambda item: item[1]):
        out.append({"venue": venue, **_describe_own(feed, api, tag)})
    return out


def connections() -> list[dict[str, Any]]:
    """Every venue connection of the process, shared or a market's own, described (from any thread)."""
    io = IOLoop.get()
    try:
        return io.submit(_describe()).result(timeout=2.0)
    except (concurrent.futures.TimeoutError, RuntimeError, asyncio.CancelledError):
        return []
