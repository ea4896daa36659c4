"""Bitfinex's `conf` (the integrity flags) is a setting of the connection: a shared
connection sends it once, however many subscribe requests follow, and again on
the next socket, against the simulated venue over real loopback sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import translations
from level4.net.shared_connection import SharedConnection, SubscriberCallbacks, Subscription
from level4.net.subscription_caps import caps_for
from level4.simulator.server import VenueSimulator
from tests.support import until
from translations.protocol import MarketType

pytestmark = pytest.mark.slow


def events(frames: list[str | bytes]) -> list[tuple[str, str | None]]:
    """Each frame sent as (event, channel)."""
    return [(body.get("event"), body.get("channel")) for body in map(orjson.loads, frames)]


async def test_conf_goes_once_per_connection_for_two_subscribe_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    scheme = translations.scheme_for("BITFINEX")
    sim = VenueSimulator("BITFINEX", ["BTC-USD", "ETH-USD"], rate=0)
    await sim.start()
    try:
        conn = SharedConnection(scheme, f"ws://127.0.0.1:{sim.port}/", f"http://127.0.0.1:{sim.port}", caps_for(scheme))
        sent: list[str | bytes] = []
        send_frames = conn.feed._send

        async def recording(ws: Any, frames: list[str | bytes]) -> None:
            sent.extend(frames)
            await send_frames(ws, frames)

        monkeypatch.setattr(conn.feed, "_send", recording)
        first, second = (
            Subscription(translations.scheme_for_market("BITFINEX", base, "USD", MarketType.SPOT)[1],
                         SubscriberCallbacks(), base)
            for base in ("BTC", "ETH")
        )  # fmt: skip
        conn.start()
        try:
            conn.add(first)
            await until(lambda: first.sent_index)
            conn.add(second)  # a second subscribe request on the same socket
            await until(lambda: second.sent_index)
            assert conn.connects == 1
            assert sorted(events(sent)) == sorted(
                [("conf", None)] + [("subscribe", "book"), ("subscribe", "trades")] * 2
            )
            assert events(sent)[0] == ("conf", None)  # before anything it configures
            (client,) = sim.clients
            assert client.session.extra["bitfinex"].flags  # the venue took the flags
            # A new socket is configured afresh: once again, with both markets' subscribes.
            sent.clear()
            await client.connection.close(1011, "cut")
            await until(lambda: conn.connects == 2 and first.sent_index and second.sent_index)
            assert events(sent).count(("conf", None)) == 1 and events(sent)[0] == ("conf", None)
            assert events(sent).count(("subscribe", "book")) == 2
        finally:
            await conn.close()
    finally:
        await sim.stop()
