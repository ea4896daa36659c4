"""The consolidated book over real sockets: simulated venues of one pair
(Coinbase and Kraken dialects, BTC-USD; Binance's BTC-USDT for equivalent
quotes), merged by the service, equal the merge of the venues' reference
books computed here; the consolidated channel follows its top of book."""

from __future__ import annotations

import time
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.stream.consumer import Consumer
from tests.stream.stream_markets import add_market, same_levels
from tests.stream.test_stream_books import stream_url
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

DEPTH = 10  # within every venue's window (Kraken shows 25 levels)
Merged = list[tuple[Decimal, Decimal, dict[str, Decimal]]]


def merge(references: dict[str, dict[str, Any]], side: str) -> Merged:
    levels: dict[Decimal, dict[str, Decimal]] = {}
    for tag, reference in references.items():
        for price, size in reference[side][:DEPTH]:
            levels.setdefault(Decimal(price), {})[tag] = Decimal(size)
    best = sorted(levels, reverse=side == "bids")[:DEPTH]
    return [(p, sum(levels[p].values(), Decimal(0)), levels[p]) for p in best]


def served(levels: list[dict[str, Any]]) -> Merged:
    return [
        (Decimal(lv["price"]), Decimal(lv["size"]), {t: Decimal(s) for t, s in lv["venues"].items()}) for lv in levels
    ]


def crossings(references: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (a, b)
        for a, ra in references.items()
        for b, rb in references.items()
        if a != b and Decimal(ra["bids"][0][0]) >= Decimal(rb["asks"][0][0])
    }


def test_consolidated_book_is_the_merge_of_the_reference_books(tmp_path: Path) -> None:
    with ExitStack() as stack:
        sims = {
            venue: stack.enter_context(SimulatorThread(venue.lower(), [pair], rate=150, seed=seed))
            for venue, pair, seed in (("COINBASE", "BTC-USD", 3), ("KRAKEN", "BTC-USD", 5), ("BINANCE", "BTC-USDT", 9))
        }
        _service, base = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=10))
        markets = {
            venue: add_market(api, venue, sim, "BTC", "USDT" if venue == "BINANCE" else "USD")
            for venue, sim in sims.items()
        }
        idle = add_market(api, "BITSTAMP", sims["COINBASE"], "BTC", "USD", start=False)
        consumer = Consumer(stream_url(base))
        stack.callback(consumer.close)
        consumer.send(op="subscribe", markets=["BTC-USD"], channels=["consolidated"], id="usd")
        consumer.reply("subscribed", "usd")
        first = consumer.wait(lambda m: m.get("channel") == "consolidated", what="the consolidated state")
        assert first["market"] == "BTC-USD" and first["quotes"] == ["USD"]
        time.sleep(1.0)  # the tops move

        for sim in sims.values():
            sim.pause()
        references: dict[str, dict[str, Any]] = {}
        for venue, sim in sims.items():
            reference = sim.reference(markets[venue]["tag"].split(":")[1])
            wait_for(
                lambda v=venue, r=reference: same_levels(api.get(f"/markets/{markets[v]['id']}/book").json(), r, 25),
                what=f"{venue} book equals its reference",
            )
            references[markets[venue]["tag"]] = reference

        usd = {tag: ref for tag, ref in references.items() if tag.endswith("-USD")}
        body = api.get("/books/BTC-USD", params={"depth": DEPTH}).json()
        assert body["pair"] == "BTC-USD" and body["quotes"] == ["USD"] and body["depth"] == DEPTH
        assert [m["market"] for m in body["markets"]] == sorted(usd)
        assert body["excluded"] == [
            {"id": idle["id"], "market": idle["tag"], "status": "stopped", "reason": "feed is stopped"}
        ]
        assert served(body["bids"]) == merge(usd, "bids") and served(body["asks"]) == merge(usd, "asks")
        assert body["best_bid"] == body["bids"][0] and body["best_ask"] == body["asks"][0]
        assert {(c["bid_market"], c["ask_market"]) for c in body["crossings"]} == crossings(usd)
        assert body["crossed"] is bool(crossings(usd))
        shared = [lv for lv in body["bids"] + body["asks"] if len(lv["venues"]) > 1]
        assert shared, "the venues quote some of the same prices: their sizes add up"

        # quotes kept apart unless asked: USDT joins only as an equivalent
        body = api.get("/books/BTC-USD", params={"depth": DEPTH, "equivalent": "USDT"}).json()
        assert body["quotes"] == ["USD", "USDT"] and len(body["markets"]) == 3
        assert served(body["bids"]) == merge(references, "bids") and served(body["asks"]) == merge(references, "asks")
        assert {(c["bid_market"], c["ask_market"]) for c in body["crossings"]} == crossings(references)
        assert api.get("/books/BTC-USDT").json()["markets"] == [
            {"id": markets["BINANCE"]["id"], "market": markets["BINANCE"]["tag"]}
        ]

        # the consolidated channel's last word is the merged top of book
        best_bid, best_ask = merge(usd, "bids")[0], merge(usd, "asks")[0]

        def settled() -> bool:
            last = [m for m in consumer.snapshot() if m.get("channel") == "consolidated"][-1]
            return bool(last["bid"] and last["ask"]) and (
                served([last["bid"]])[0] == best_bid and served([last["ask"]])[0] == best_ask
            )

        wait_for(settled, what="the consolidated top == the merged references' top")
        events = [m for m in consumer.snapshot() if m.get("channel") == "consolidated"]
        assert len(events) > 5
        first_number = events[0]["sequence"]
        assert [e["sequence"] for e in events] == list(range(first_number, first_number + len(events)))
        assert events[-1]["crossed"] is bool(crossings(usd))
