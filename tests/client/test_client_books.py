"""A mirror kept by level4.client over real sockets equals, whenever it says
it is synchronised, the book the service serves and the simulated venue's
reference; trades come in order; patterns choose markets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from level4.client import Client, Trade, UnknownMarket
from tests.client.live_service import SYMBOL, as_strings, exact_now, live_venue, same_book
from tests.stream.stream_markets import add_market
from tests.support import SimulatorThread, running_service, until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("venue", "name"), [("coinbase", "COINBASE"), ("bitfinex", "BITFINEX")])
async def test_the_mirror_equals_the_served_book_and_the_reference(venue: str, name: str, tmp_path: Path) -> None:
    with live_venue(tmp_path, venue, name) as live:
        async with Client(live.base) as client:
            book = await client.book(live.tag)
            assert await client.book(live.market["id"]) is book  # one mirror a market
            await book.wait_synchronised(10)
            first = book.sequence
            # whenever it says synchronised while the venue runs, it holds a real book
            checked = 0
            while checked < 20:
                await asyncio.sleep(0.05)
                view = book.view()
                if view.synchronised:
                    assert view.bids and view.asks and view.bids[0].price < view.asks[0].price
                    assert view.bids == sorted(view.bids, reverse=True) and view.asks == sorted(view.asks)
                    checked += 1
            for _ in range(3):  # at several points of the flow, frozen for an exact comparison
                live.sim.pause()
                await until(lambda: exact_now(live, book), what="mirror == served book == reference")
                live.sim.resume()
                await asyncio.sleep(0.5)
            live.sim.pause()
            await until(lambda: exact_now(live, book), what="mirror == served book == reference")
            assert book.sequence is not None and first is not None and book.sequence > first + 50
            assert client.connection.gaps == 0 and client.connection.sessions == 1
            served = live.served()
            top5 = book.bids[:5]
            assert len(top5) == 5 and as_strings(top5) == [lv[:2] for lv in served["bids"][:5]]
            assert as_strings(book.asks[:5]) == [lv[:2] for lv in served["asks"][:5]]
            if venue == "bitfinex":  # the venue counts orders at each level: so does the mirror
                price, _size, orders = served["bids"][0]
                assert book.orders("bid", price) == orders
            else:
                assert book.orders("bid", book.bids[0].price) is None


async def test_trades_arrive_in_order_as_the_service_recorded_them(tmp_path: Path) -> None:
    with live_venue(tmp_path) as live:
        async with Client(live.base) as client:
            got: list[Trade] = []

            async def collect() -> None:
                async for trade in client.trades(live.tag):
                    got.append(trade)
                    if len(got) == 30:
                        return

            await asyncio.wait_for(collect(), 30)
            sequences = [t.sequence for t in got]
            assert sequences == sorted(sequences) and len(set(sequences)) == 30
            recorded = live.api.get(f"/markets/{live.market['id']}/trades", params={"limit": 1000}).json()["trades"]
            by_sequence = {t["sequence"]: t for t in recorded}
            for trade in got:  # exactly what the service recorded, in Decimal
                kept = by_sequence[trade.sequence]
                assert (str(trade.price), str(trade.size), trade.side) == (kept["price"], kept["size"], kept["side"])
                assert trade.market == live.tag and trade.trade_id == str(kept["trade_id"])
            ids = [int(t["sequence"]) for t in sorted(recorded, key=lambda t: t["sequence"])]
            start = ids.index(sequences[0])
            assert ids[start : start + 30] == sequences  # none skipped between the first and the last
            # the feed's subscription ended with the loop: the market is no longer asked for
            await until(lambda: not client.connection.subscribed(), what="unsubscribed")


async def test_events_by_pattern_and_clear_errors(tmp_path: Path) -> None:
    with live_venue(tmp_path) as live:
        async with Client(live.base) as client:
            with pytest.raises(UnknownMarket):
                await client.book("COINBASE.SPOT:NOPE-USD")
            with pytest.raises(UnknownMarket):
                await client.book(999_999)
            with pytest.raises(UnknownMarket):
                async for _ in client.events(["KRAKEN.*"]):
                    pass
            with pytest.raises(ValueError, match="channels"):
                async for _ in client.events([live.tag], channels=["candles"]):
                    pass

            seen: list[dict[str, object]] = []

            async def collect() -> None:
                async for event in client.events(["coinbase.spot:*"], channels=["top", "status"]):
                    seen.append(event)
                    if len(seen) == 20:
                        return

            await asyncio.wait_for(collect(), 20)
            assert {e["market"] for e in seen} == {live.tag}
            assert {e["channel"] for e in seen} <= {"top", "status"} and any(e["channel"] == "top" for e in seen)
            assert [e["sequence"] for e in seen] == sorted(e["sequence"] for e in seen)  # type: ignore[type-var]
            raw_book: list[dict[str, object]] = []
            async for event in client.events(live.tag, channels=["book"]):
                raw_book.append(event)
                if len(raw_book) == 5:
                    break
            assert raw_book[0]["snapshot"] is True and not any(e["snapshot"] for e in raw_book[1:])
            assert {e["channel"] for e in raw_book} == {"book"}
            markets = await client.markets("*:BTC-*")
            assert [m["tag"] for m in markets] == [live.tag]
            top = await client.top(live.tag)
            assert top.market == live.tag and top.bid is not None and top.ask is not None
            assert top.bid.price < top.ask.price and top.spread == top.ask.price - top.bid.price
            live.sim.pause()
            book = await client.book(live.tag)
            await book.wait_synchronised(10)
            await until(lambda: same_book(book.view(), live.sim.reference(SYMBOL)), what="mirror == reference")


async def test_one_connection_carries_the_mirrors_of_many_markets(tmp_path: Path) -> None:
    with (
        SimulatorThread("coinbase", [SYMBOL, "ETH-USD", "SOL-USD"], rate=300) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        markets = [add_market(api, "COINBASE", sim, base_symbol, "USD") for base_symbol in ("BTC", "ETH", "SOL")]
        async with Client(base) as client:
            books = [await client.book(m["tag"]) for m in markets]
            for book in books:
                await book.wait_synchronised(10)
            assert len(service.downstream.clients) == 1  # one websocket for all of them
            subscribed = client.connection.subscribed()
            assert all(subscribed[m["id"]] == {"book", "top", "trade", "status"} for m in markets)
            await asyncio.sleep(1.0)
            sim.pause()

            def all_exact() -> bool:
                for market, book in zip(markets, books, strict=True):
                    served = api.get(f"/markets/{market['id']}/book").json()
                    reference = sim.reference(market["tag"].split(":")[1])
                    if not (same_book(book.view(), served) and same_book(book.view(), reference)):
                        return False
                return True

            await until(all_exact, what="every mirror == its served book == its reference")
            # a released mirror's market is unsubscribed; the others go on
            await client.release(books[0])
            await until(lambda: markets[0]["id"] not in client.connection.subscribed(), what="released")
            assert not books[0].synchronised and books[1].synchronised and books[2].synchronised
            assert client.connection.gaps == 0
