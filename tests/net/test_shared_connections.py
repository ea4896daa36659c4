"""Markets of one venue sharing connections, in the running service against
the venue simulator over real sockets: hundreds of markets on a handful of
connections with every book equal to the venue's reference; a market
stopped is unsubscribed alone; one market's bad frame resyncs that market
alone; a cut connection resyncs its own markets and no others. Coinbase
(a market's resync renews its subscription), Binance (diffs joined to REST
snapshots: a resync refetches one snapshot) and Kraken (checksums: a resync
is the scheme's own resubscribe of that pair)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

import level4.net.venue_connection
import translations
from tests.net.shared_fixtures import SharedVenue, venue_in_service
from tests.resilience.venues import fast_feeds
from tests.support import wait_for

# Setting up 200 markets on a loaded machine can take most of the default limit by itself.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MARKETS = 200
CAP = 50  # markets a connection: 200 markets, 4 connections


@dataclass(frozen=True)
class Case:
    venue: str
    quote: str
    depth: int | None  # levels a side the venue shows, for comparisons
    bad_frame: Callable[[str], Any]  # an unreadable book frame for this venue symbol
    renews: bool  # a market's resync renews its subscription (a reconnect of its own)


def _coinbase_bad(symbol: str) -> Any:
    # A change with no size: unreadable, so whatever it changed is lost for this book.
    return {"type": "l2update", "product_id": symbol, "changes": [["buy", "1.00"]], "time": "2026-01-01T00:00:00Z"}


def _binance_bad(symbol: str) -> Any:
    data = {"e": "depthUpdate", "E": 1, "s": symbol, "U": "one", "u": 1, "b": [], "a": []}
    return {"stream": f"{symbol.lower()}@depth@100ms", "data": data}


def _kraken_bad(symbol: str) -> Any:
    # Kraken spot v2: an ask with no quantity.
    entry = {"symbol": symbol, "bids": [], "asks": [{"price": 1.0}], "checksum": 1, "timestamp": "2026-01-01T00:00:00Z"}
    return {"channel": "book", "type": "update", "data": [entry]}


CASES = {
    "COINBASE": Case("COINBASE", "USD", None, _coinbase_bad, True),
    "BINANCE": Case("BINANCE", "USDT", None, _binance_bad, False),
    "KRAKEN": Case("KRAKEN", "USD", 25, _kraken_bad, False),
}


def pairs(quote: str) -> list[str]:
    return [f"S{n:03d}-{quote}" for n in range(MARKETS)]


@pytest.fixture(scope="module", params=sorted(CASES))
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedVenue]:
    """One venue's MARKETS markets in one service, for the module's tests in turn."""
    case = CASES[request.param]
    with ExitStack() as stack:
        stack.enter_context(fast_feeds())
        # 200 snapshots asked for at once from one simulator thread take longer than fast_feeds allows.
        stack.enter_context(pytest.MonkeyPatch.context()).setattr(level4.net.venue_connection, "REST_TIMEOUT", 10.0)
        # The venue's REST budget is per minute: 200 snapshots and then 50 more after a cut would
        # make the test wait out real minutes. The same budget over two seconds, on both sides,
        # keeps the pacing real and the test short.
        limits = translations.limits_for(case.venue).scaled(rest_window=2.0)
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(importlib.import_module(translations.VENUES[case.venue]), "limits", limits)
        yield stack.enter_context(
            venue_in_service(
                case.venue,
                case.quote,
                pairs(case.quote),
                case.depth,
                tmp_path_factory.mktemp("shared"),
                live_timeout=90,
                simulator={"rate": 400, "seed": 5, "limits": limits},
                service={"subscriptions_per_connection": CAP},
            )
        )


@pytest.fixture
def venue(shared: SharedVenue) -> Iterator[SharedVenue]:
    """The venue with every market running and live, as each test begins."""
    shared.all_running()
    yield shared


def test_hundreds_of_markets_ride_a_handful_of_connections(venue: SharedVenue) -> None:
    assert len(venue.clients()) == MARKETS // CAP
    assert all(n == 1 for n in venue.subscribed().values())
    assert len(venue.subscribed()) == MARKETS
    venue.all_books_equal()
    riding: dict[str, int] = {}  # as GET /markets tells it: connection -> markets
    for market in venue.api.get("/markets").json():
        riding[market["connection"]] = riding.get(market["connection"], 0) + 1
    assert sorted(riding.values()) == [CAP] * (MARKETS // CAP), riding
    assert all(name.startswith(f"{venue.name}#") for name in riding)
    one = venue.api.get(f"/markets/{venue.ids[f'S000-{venue.quote}']}").json()
    assert one["connection"] in riding
    metrics = venue.api.get("/metrics").text
    assert f'level4_venue_connections{{exchange="{venue.name}"}} 4.0' in metrics
    assert metrics.count("level4_connection_subscriptions{") == MARKETS // CAP


def test_stopping_a_market_unsubscribes_it_alone(venue: SharedVenue) -> None:
    gone = venue.ids[f"S007-{venue.quote}"]
    symbol = venue.symbols[gone]
    before = venue.reconnects()
    r = venue.api.patch(f"/markets/{gone}", json={"level4_feed_enabled": False})
    assert r.status_code == 200, r.text
    wait_for(lambda: symbol not in venue.subscribed(), what="unsubscribed at the venue")
    assert len(venue.subscribed()) == MARKETS - 1
    assert len(venue.clients()) == MARKETS // CAP  # its connection stays for the others
    assert venue.api.get(f"/markets/{gone}").json()["connection"] is None
    others = [i for i in venue.ids.values() if i != gone]
    assert venue.live(others)
    after = venue.reconnects()
    assert all(after[i] == before[i] for i in others)
    venue.all_books_equal()


def test_one_markets_bad_frame_resyncs_that_market_alone(venue: SharedVenue) -> None:
    victim = venue.ids[f"S042-{venue.quote}"]
    symbol = venue.symbols[victim]
    reconnects, resyncs = venue.reconnects(), venue.resyncs()
    connections = {id(c) for c in venue.clients()}
    venue.push(venue.client_of(symbol), CASES[venue.name].bad_frame(symbol))
    wait_for(lambda: venue.resyncs()[victim] > resyncs[victim], what="the market resynchronised")
    if CASES[venue.name].renews:  # counted when the renewal is sent, a moment after the resync began
        wait_for(lambda: venue.reconnects()[victim] > reconnects[victim], what="its subscription renewed")
    wait_for(lambda: venue.live(), timeout=20, what="every market live again")
    after_reconnects, after_resyncs = venue.reconnects(), venue.resyncs()
    # Its subscription renewed (a reconnect of its own), or its book refetched in place.
    assert after_reconnects[victim] == reconnects[victim] + (1 if CASES[venue.name].renews else 0)
    others = [i for i in venue.ids.values() if i != victim]
    assert all(after_reconnects[i] == reconnects[i] for i in others)
    assert all(after_resyncs[i] == resyncs[i] for i in others)
    assert {id(c) for c in venue.clients()} == connections  # no connection was renewed
    assert all(n == 1 for n in venue.subscribed().values()) and len(venue.subscribed()) == MARKETS
    venue.all_books_equal()


def test_a_cut_connection_resyncs_its_markets_and_no_others(venue: SharedVenue) -> None:
    client = venue.client_of(venue.symbols[venue.ids[f"S100-{venue.quote}"]])
    on_it = {i for i, s in venue.symbols.items() if s in client.session.subscribed}
    assert len(on_it) == CAP
    before = venue.reconnects()
    others = {id(c) for c in venue.clients() if c is not client}
    venue.cut(client)
    wait_for(lambda: all(venue.reconnects()[i] > before[i] for i in on_it), what="its markets reconnecting")
    wait_for(lambda: venue.live(), timeout=30, what="every market live again")
    after = venue.reconnects()
    assert all(after[i] == before[i] + 1 for i in on_it)
    assert all(after[i] == before[i] for i in venue.ids.values() if i not in on_it)
    assert len(venue.clients()) == MARKETS // CAP
    assert others <= {id(c) for c in venue.clients()}  # the other connections are the same ones
    venue.all_books_equal()


def test_stopping_every_market_at_once_closes_every_connection(venue: SharedVenue) -> None:
    venue.service.markets.stop_all()
    board = venue.service.board
    assert all(board.status(i) == "stopped" for i in venue.ids.values())
    assert venue.service.markets.running() == []
    wait_for(lambda: not venue.clients(), what="every connection closed at the venue")
    assert venue.sim.sim.enforcer.refused == {}  # unsubscribing two hundred markets kept within every limit
