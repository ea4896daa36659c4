"""/stream's contract over a real socket: refusals are JSON messages on a
connection that stays, the token rule, and a slow client disconnected with
its reason before its queue outgrows the limit."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from level4.market.publisher import MarketPublisher
from level4.stream.client import StreamClient
from tests.stream.consumer import Consumer
from tests.stream.stream_markets import add_market
from tests.stream.test_stream_books import stream_url
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow


def refused(consumer: Consumer, raw: str | dict[str, Any], rid: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        consumer.ws.send(raw)
    else:
        consumer.send(**raw, id=rid)
    return consumer.reply("error", rid)


def test_bad_requests_are_answered_and_the_connection_stays(tmp_path: Path) -> None:
    with (
        SimulatorThread("coinbase", ["BTC-USD"], rate=50) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (_service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        market = add_market(api, "COINBASE", sim, "BTC", "USD", start=False)
        consumer = Consumer(stream_url(base))
        try:
            consumer.ws.send("not json")
            assert consumer.wait(lambda m: m.get("type") == "error")["error"] == "invalid_json"
            cases: list[tuple[dict[str, Any], str, str]] = [
                ({"op": "watch", "markets": [1], "channels": ["top"]}, "invalid", "op"),
                ({"op": "subscribe", "markets": [], "channels": ["top"]}, "invalid", "markets"),
                ({"op": "subscribe", "markets": [True], "channels": ["top"]}, "invalid", "markets"),
                ({"op": "subscribe", "markets": [1], "channels": ["candles"]}, "invalid", "candles"),
                ({"op": "subscribe", "markets": [1], "channels": ["top"], "colour": 1}, "invalid", "colour"),
                ({"op": "subscribe", "markets": [99], "channels": ["top"]}, "unknown_market", "99"),
                ({"op": "subscribe", "markets": ["KRAKEN.SPOT:BTC-USD"], "channels": ["top"]}, "unknown_market", ""),
                ({"op": "subscribe", "markets": [1], "channels": ["consolidated"]}, "invalid", "markets take"),
                ({"op": "subscribe", "markets": ["BTC-USD"], "channels": ["top"]}, "invalid", "consolidated"),
                ({"op": "subscribe", "markets": ["OPTION:BTC-USD"], "channels": ["consolidated"]}, "invalid", ""),
                ({"op": "subscribe", "markets": [1], "channels": ["top"], "equivalent": ["USDT"]}, "invalid", ""),
            ]
            for n, (request, code, word) in enumerate(cases):
                error = refused(consumer, request, n)
                assert error["error"] == code and word in error["detail"], (request, error)
            refusal = refused(consumer, '{"op": "subscribe", "markets": [1], "channels": "top", "id": "x"}', "x")
            assert "channels" in refusal["detail"]

            # still connected, and a good request works; a market not running answers with an empty book
            consumer.send(op="subscribe", markets=[market["tag"]], channels=["book", "status"], id="ok")
            assert consumer.reply("subscribed", "ok")["channels"] == ["book", "status"]
            book = consumer.wait(lambda m: m.get("channel") == "book")
            assert book["snapshot"] and not book["synchronised"] and book["reason"] == "feed is stopped"
            # switched on, its events follow: started, then the book from the venue
            api.patch(f"/markets/{market['id']}", json={"level4_feed_enabled": True})
            consumer.wait(lambda m: m.get("channel") == "book" and m["synchronised"], what="the venue's book")
            assert consumer.closed is None
        finally:
            consumer.close()


def test_the_token_guards_the_stream(tmp_path: Path) -> None:
    with running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}", api_token="s3cret") as (_service, base):
        url = stream_url(base)
        wrong = {"additional_headers": {"Authorization": "Bearer no"}}
        for options, detail in (({}, "missing token"), (wrong, "wrong")):
            consumer = Consumer(url, **options)
            try:
                error = consumer.wait(lambda m: m.get("type") == "error")
                assert error["error"] == "unauthorized" and detail in error["detail"]
                wait_for(lambda c=consumer: c.closed is not None, what="closed")
                assert consumer.closed is not None and consumer.closed.rcvd is not None
                assert consumer.closed.rcvd.code == 1008
            finally:
                consumer.close()
        for consumer in (
            Consumer(url + "?token=s3cret"),
            Consumer(url, additional_headers={"Authorization": "Bearer s3cret"}),
        ):
            try:
                consumer.send(op="subscribe", markets=["BTC-USD"], channels=["consolidated"], id=1)
                assert consumer.reply("subscribed", 1)["pairs"] == ["BTC-USD"]
            finally:
                consumer.close()


def test_a_slow_client_is_disconnected_with_the_reason(tmp_path: Path) -> None:
    limit = 200
    with (
        SimulatorThread("coinbase", ["BTC-USD"], rate=10) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}", stream_queue=limit) as (service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        market = add_market(api, "COINBASE", sim, "BTC", "USD", start=False)
        # no compression: the events below would shrink to nothing
        fast = Consumer(stream_url(base), compression=None)
        slow = Consumer(stream_url(base), rcvbuf=4096, read=False, max_queue=4, compression=None)
        try:
            for consumer in (fast, slow):
                consumer.send(op="subscribe", markets=[market["id"]], channels=["trade"], id=1)

            def subscribed() -> list[StreamClient]:
                clients = list(service.downstream.clients)
                return clients if len(clients) == 2 and all(c.subscribed() for c in clients) else []

            clients = wait_for(subscribed, what="both subscribed")
            # A busy market, faster than the slow client reads: ~500 events/s of 16 KiB.
            publisher = MarketPublisher(market["id"], market["tag"], service.hub)
            trade = {"side": "buy", "price": "50000.01", "size": "0.5", "trade_id": None, "note": "x" * 16384}
            deadline = time.monotonic() + 60
            while not any(c.closing for c in clients):
                assert time.monotonic() < deadline, "the slow client was never given up"
                for _ in range(5):
                    publisher.publish("trade", trade, None, time.time())
                time.sleep(0.01)
            dropped = next(c for c in clients if c.closing)
            assert dropped.high_water <= limit and fast.closed is None
            slow.reading.set()  # now it reads: what was sent, then the close with the reason
            wait_for(lambda: slow.closed is not None, timeout=30, what="the slow client closed")
            assert slow.closed is not None and slow.closed.rcvd is not None
            assert slow.closed.rcvd.code == 1008 and "slow consumer" in slow.closed.rcvd.reason
            wait_for(lambda: dropped not in service.downstream.clients, what="detached from the hub")
            # the other client got every event, in order
            publisher.publish("trade", {**trade, "note": "last"}, None, time.time())
            fast.wait(lambda m: m.get("note") == "last", what="the last event")
            sequences = [m["sequence"] for m in fast.snapshot() if m.get("channel") == "trade"]
            assert sequences == list(range(1, publisher.sequence + 1))
        finally:
            fast.close()
            slow.close()


# The server's keepalive (uvicorn's own setting, 20 s + 20 s by default) made shorter: what is
# proven is the order - the close with the reason before the keepalive's failure - whatever its length.
KEEPALIVE = {"ws_ping_interval": 5.0, "ws_ping_timeout": 5.0}


def test_a_client_that_stops_reading_is_closed_with_the_reason_not_by_the_keepalive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender stuck writing to a client that reads nothing does not hold up
    giving it up; the close with the reason is on its way before the server's
    keepalive would fail the connection (1011), and the client reads it when
    it reads again."""
    limit = 100
    monkeypatch.setattr(uvicorn, "Config", functools.partial(uvicorn.Config, **KEEPALIVE))
    keepalive = sum(KEEPALIVE.values())
    with (
        SimulatorThread("coinbase", ["BTC-USD"], rate=10) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}", stream_queue=limit) as (service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        market = add_market(api, "COINBASE", sim, "BTC", "USD", start=False)
        # A client that reads nothing, not even pongs: its own keepalive is off as well.
        slow = Consumer(stream_url(base), rcvbuf=4096, read=False, max_queue=4, compression=None, ping_interval=None)
        try:
            slow.send(op="subscribe", markets=[market["id"]], channels=["trade"], id=1)
            client = wait_for(lambda: next(iter(service.downstream.clients), None), what="subscribed")
            wait_for(lambda: bool(client.subscribed()), what="subscribed")
            publisher = MarketPublisher(market["id"], market["tag"], service.hub)
            trade = {"side": "buy", "price": "50000.01", "size": "0.5", "trade_id": None, "note": "x" * 16384}
            deadline = time.monotonic() + 60
            while client.closing is None:
                assert time.monotonic() < deadline, "the client was never given up"
                publisher.publish("trade", trade, None, time.time())
                time.sleep(0.005)
            # given up while its socket is still full: detached at once, not when a write completes
            wait_for(lambda: client not in service.downstream.clients, timeout=10, what="detached")
            time.sleep(keepalive + 5)  # past the point where the keepalive would have failed it
            slow.reading.set()
            wait_for(lambda: slow.closed is not None, timeout=30, what="the client closed")
            assert slow.closed is not None and slow.closed.rcvd is not None, slow.closed
            assert slow.closed.rcvd.code == 1008, slow.closed.rcvd
            assert slow.closed.rcvd.reason == f"slow consumer: {limit} messages queued unsent"
        finally:
            slow.close()
