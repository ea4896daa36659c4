"""GET /metrics of the whole service over real sockets, with simulated
venues that misbehave on purpose: the counters follow what happened
(frames, events to the last sequence a consumer saw, resyncs after corrupt
checksums, reconnects after cuts), statuses agree with /health, the
latency histogram fills, /stream clients and a dead sink are counted."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.metrics.samples import Samples, parse
from tests.sinks.servers import free_port
from tests.stream.consumer import Consumer
from tests.stream.stream_markets import add_market
from tests.stream.test_stream_books import stream_url
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow


def scrape(api: httpx.Client) -> Samples:
    r = api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def of(api: httpx.Client, name: str, market: dict[str, object], **extra: str) -> float:
    labels = {"market_id": str(market["id"]), "market": str(market["tag"]), "exchange": str(market["exchange"])}
    return scrape(api).get((name, frozenset({**labels, **extra}.items())), -1.0)


def test_metrics_follow_the_markets(tmp_path: Path) -> None:
    dead_sink = f"nats://127.0.0.1:{free_port()}?name=dead&retry_max=0.2&flush=0.2"
    with ExitStack() as stack:
        coinbase_sim = stack.enter_context(SimulatorThread("coinbase", ["BTC-USD"], rate=150, seed=2))
        kraken_sim = stack.enter_context(
            SimulatorThread("kraken", ["BTC-USD"], rate=150, seed=4, faults={"checksum": 0.05, "disconnect": 0.01})
        )
        service, base = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'm.sqlite3'}", sinks=[dead_sink]))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=10))
        coinbase = add_market(api, "COINBASE", coinbase_sim, "BTC", "USD")
        kraken = add_market(api, "KRAKEN", kraken_sim, "BTC", "USD")

        # frames and events
        first = of(api, "level4_frames_received_total", coinbase)
        wait_for(lambda: of(api, "level4_frames_received_total", coinbase) > first + 20, what="frames counted")
        consumer = Consumer(stream_url(base))
        stack.callback(consumer.close)
        consumer.send(op="subscribe", markets=[coinbase["id"]], channels=["status", "book", "top", "trade"], id=1)
        consumer.reply("subscribed", 1)
        wait_for(lambda: scrape(api)[("level4_stream_clients", frozenset())] == 1, what="one /stream client")
        coinbase_sim.pause()

        def last_sequence() -> int:
            return max(m["sequence"] for m in consumer.snapshot() if m.get("market_id") == coinbase["id"])

        wait_for(
            lambda: (
                of(api, "level4_events_published_total", coinbase)
                == last_sequence()
                == service.markets.publishers[coinbase["id"]].sequence
            ),
            what="events published == the last sequence the consumer saw",
        )
        frames = of(api, "level4_frames_received_total", coinbase)
        assert frames == service.board.get(coinbase["id"]).frames
        coinbase_sim.resume()
        consumer.close()
        wait_for(lambda: scrape(api)[("level4_stream_clients", frozenset())] == 0, what="the client gone")

        # Kraken's corrupt checksums and cuts: counted, each failure a resync
        wait_for(lambda: of(api, "level4_checksum_failures_total", kraken) >= 2, timeout=30, what="checksum failures")
        wait_for(lambda: of(api, "level4_reconnects_total", kraken) >= 1, timeout=30, what="reconnects")
        assert of(api, "level4_resyncs_total", kraken) >= of(api, "level4_checksum_failures_total", kraken) - 1
        assert of(api, "level4_checksum_failures_total", coinbase) == 0  # Coinbase sends no checksums

        # latency: every market's batches, per venue
        samples = scrape(api)
        count = samples[("level4_receipt_to_publish_seconds_count", frozenset({("exchange", "COINBASE")}))]
        inf = samples[
            ("level4_receipt_to_publish_seconds_bucket", frozenset({("exchange", "COINBASE"), ("le", "+Inf")}))
        ]
        assert count == inf > 0
        assert samples[("level4_receipt_to_publish_seconds_sum", frozenset({("exchange", "COINBASE")}))] > 0

        # status: a market whose venue is not there is not live, in /metrics as in /health
        closed = f"127.0.0.1:{free_port()}"
        api.post("/exchanges", json={"name": "BITSTAMP", "ws_url": f"ws://{closed}/", "rest_url": f"http://{closed}"})
        nowhere = api.post(
            "/markets", json={"exchange": "BITSTAMP", "base_symbol": "BTC", "quote_symbol": "USD"}
        ).json()
        api.patch(f"/markets/{nowhere['id']}", json={"level4_feed_enabled": True})
        wait_for(lambda: of(api, "level4_market_status", nowhere, status="live") == 0, what="a status for it")
        assert of(api, "level4_market_status", coinbase, status="live") == 1

        def health_agrees() -> bool:
            not_live = {m["id"]: m["status"] for m in api.get("/health").json()["markets_not_live"]}
            return (
                coinbase["id"] not in not_live
                and nowhere["id"] in not_live
                and of(api, "level4_market_status", nowhere, status=not_live[nowhere["id"]]) == 1
            )

        wait_for(health_agrees, what="/health and /metrics agree on what is not live")
        api.patch(f"/markets/{coinbase['id']}", json={"level4_feed_enabled": False})
        wait_for(lambda: of(api, "level4_market_status", coinbase, status="stopped") == 1, what="stopped")  # within 1 s
        assert of(api, "level4_market_status", coinbase, status="live") == 0

        # the sink whose server is not there
        labels = frozenset({("sink", "dead"), ("kind", "nats")})
        wait_for(lambda: scrape(api)[("level4_sink_errors_total", labels)] >= 2, what="sink errors counted")
        assert scrape(api)[("level4_sink_up", labels)] == 0
