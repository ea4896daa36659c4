"""Bitfinex and HitBTC markets sharing connections, in the running service
against the venue simulator over real sockets, within the venue's limits as
the simulator enforces them (Bitfinex: 25 channels a connection, two a
market, refused over the cap with error 10305):

- 30 markets ride ceil(30 / markets a connection) connections (Bitfinex 3,
  HitBTC 1), each market subscribed once, every book equal to the venue's;
- one market's lost book (a wrong Bitfinex checksum, a HitBTC sequence gap)
  resyncs that market alone, on the same connection;
- a gap in Bitfinex's connection-wide sequence renews that connection: its
  markets resync, the other connections' markets see nothing;
- a market stopped is unsubscribed alone, its connection kept for the others."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

import level4.net.venue_connection
from level4.net.subscription_caps import caps_for
from level4.simulator.dialects import dialect_for
from tests.net.shared_fixtures import SharedVenue, venue_in_service
from tests.support import wait_for
from translations import scheme_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MARKETS = 30
QUOTES = {"BITFINEX": "USD", "HITBTC": "USDT"}
DEPTH = {"BITFINEX": 25, "HITBTC": None}  # levels a side compared (Bitfinex shows a window)


def pairs(quote: str) -> list[str]:
    return [f"F{n:03d}-{quote}" for n in range(MARKETS)]


def expected_connections(venue: SharedVenue) -> int:
    return math.ceil(MARKETS / caps_for(scheme_for(venue.name)).markets_per_connection)


@pytest.fixture(scope="module", params=sorted(QUOTES))
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedVenue]:
    name = request.param
    with ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(level4.net.venue_connection, "RECONNECT_BASE", 0.05)
        patch.setattr(level4.net.venue_connection, "RECONNECT_CAP", 0.5)
        # The venue's own limits, enforced by the simulator as the venue enforces them.
        yield stack.enter_context(
            venue_in_service(
                name,
                QUOTES[name],
                pairs(QUOTES[name]),
                DEPTH[name],
                tmp_path_factory.mktemp("fanout"),
                live_timeout=120,
                simulator={"rate": 300, "seed": 11},
                service={},
            )
        )


@pytest.fixture
def venue(shared: SharedVenue) -> Iterator[SharedVenue]:
    shared.all_running()
    yield shared
    limits = shared.limits()
    assert limits["refusals"] == {}, limits  # the service never tripped a limit


def test_thirty_markets_ride_the_fewest_connections_the_cap_allows(venue: SharedVenue) -> None:
    assert expected_connections(venue) == (3 if venue.name == "BITFINEX" else 1)
    assert len(venue.clients()) == expected_connections(venue)
    assert len(venue.subscribed()) == MARKETS and all(n == 1 for n in venue.subscribed().values())
    venue.all_books_equal()
    riding: dict[str, int] = {}
    for market in venue.api.get("/markets").json():
        riding[market["connection"]] = riding.get(market["connection"], 0) + 1
    assert len(riding) == expected_connections(venue) and sum(riding.values()) == MARKETS, riding
    peaks = venue.limits()["peaks"]
    assert peaks["streams"]["peak"] <= peaks["streams"]["limit"]
    if venue.name == "BITFINEX":
        assert peaks["streams"]["peak"] == 24  # twelve markets' book and trades channels


def _lose_one_markets_book(venue: SharedVenue, symbol: str) -> None:
    client = venue.client_of(symbol)
    if venue.name == "BITFINEX":
        state = client.session.extra["bitfinex"]
        dialect: Any = dialect_for("BITFINEX")
        # A checksum the book disagrees with, in its place in the connection's sequence.
        venue.in_venue(lambda: client.outbox.put_nowait(dialect._data(state, state.books[symbol].chan, "cs", 7)))
    else:
        market = venue.sim.sim.markets[symbol]

        def skip() -> None:
            market.update_id += 5  # changes lost on their way

        venue.in_venue(skip)


def test_one_markets_lost_book_resyncs_that_market_alone(venue: SharedVenue) -> None:
    victim = venue.ids[f"F004-{QUOTES[venue.name]}"]
    symbol = venue.symbols[victim]
    reconnects, resyncs = venue.reconnects(), venue.resyncs()
    connections = {id(c) for c in venue.clients()}
    _lose_one_markets_book(venue, symbol)
    wait_for(lambda: venue.resyncs()[victim] > resyncs[victim], what="the market resynchronised")
    wait_for(venue.live, timeout=20, what="every market live again")
    others = [i for i in venue.ids.values() if i != victim]
    after_reconnects, after_resyncs = venue.reconnects(), venue.resyncs()
    assert all(after_reconnects[i] == reconnects[i] for i in others)
    assert all(after_resyncs[i] == resyncs[i] for i in others)
    assert {id(c) for c in venue.clients()} == connections  # no connection was renewed
    assert len(venue.subscribed()) == MARKETS and all(n == 1 for n in venue.subscribed().values())
    venue.all_books_equal()


def test_a_gap_in_bitfinexs_connection_sequence_renews_that_connection_alone(venue: SharedVenue) -> None:
    if venue.name != "BITFINEX":
        pytest.skip("HitBTC's sequences are per market")
    client = venue.client_of(venue.symbols[venue.ids["F020-USD"]])
    on_it = [i for i, s in venue.symbols.items() if s in client.session.subscribed]
    assert len(on_it) == 12
    state = client.session.extra["bitfinex"]
    before = venue.reconnects()
    others = {id(c) for c in venue.clients() if c is not client}

    def lose_a_frame() -> None:
        state.sequence += 1

    venue.in_venue(lose_a_frame)
    wait_for(lambda: all(venue.reconnects()[i] > before[i] for i in on_it), what="its markets reconnecting")
    wait_for(venue.live, timeout=30, what="every market live again")
    after = venue.reconnects()
    assert all(after[i] == before[i] + 1 for i in on_it)
    assert all(after[i] == before[i] for i in venue.ids.values() if i not in on_it)
    assert len(venue.clients()) == expected_connections(venue)
    assert others <= {id(c) for c in venue.clients()}  # the other connections are the same ones
    venue.all_books_equal()


def test_stopping_a_market_unsubscribes_it_alone(venue: SharedVenue) -> None:
    gone = venue.ids[f"F007-{QUOTES[venue.name]}"]
    symbol = venue.symbols[gone]
    before = venue.reconnects()
    r = venue.api.patch(f"/markets/{gone}", json={"level4_feed_enabled": False})
    assert r.status_code == 200, r.text
    wait_for(lambda: symbol not in venue.subscribed(), what="unsubscribed at the venue")
    assert len(venue.subscribed()) == MARKETS - 1
    assert len(venue.clients()) == expected_connections(venue)
    others = [i for i in venue.ids.values() if i != gone]
    assert venue.live(others)
    after = venue.reconnects()
    assert all(after[i] == before[i] for i in others)
    venue.all_books_equal()
