"""The running service against a simulated venue that enforces its limits
(scaled down, so seconds show what minutes would): starting many markets at
once never trips them and every book equals the reference; a venue that
still refuses (HTTP 429) is backed off by its Retry-After, with no request
before it has passed."""

from __future__ import annotations

import asyncio
import itertools
import string
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

import translations
import translations.binance
from level4.net import venue_limiter
from level4.service.root import Service
from tests.resilience.venues import same_book
from tests.support import SimulatorThread, running_service, wait_for
from translations.venue_limits import VenueLimits

pytestmark = pytest.mark.slow

BINANCE = translations.limits_for("BINANCE")
SNAPSHOT_WEIGHT = BINANCE.rest_weight(translations.scheme_for("BINANCE").depth_path("BTCUSDT"))  # type: ignore[attr-defined]


def bases(n: int) -> list[str]:
    return ["Z" + "".join(pair) for pair in itertools.islice(itertools.product(string.ascii_uppercase, repeat=2), n)]


def limits_of_both(mp: pytest.MonkeyPatch, client: VenueLimits) -> None:
    """The service reads the venue's limits from its scheme module, as in production."""
    mp.setattr(translations.binance, "limits", client)
    venue_limiter.reset()


def start_markets(api: httpx.Client, sim: SimulatorThread, names: list[str]) -> list[int]:
    assert api.post("/symbols", json={"symbol": "USDT"}).status_code in (201, 409)
    r = api.post("/exchanges", json={"name": "BINANCE", "ws_url": sim.url, "rest_url": sim.http})
    assert r.status_code == 201, r.text
    ids = []
    for base in names:
        assert api.post("/symbols", json={"symbol": base}).status_code == 201
        r = api.post(
            "/markets", json={"exchange": "BINANCE", "base_symbol": base, "quote_symbol": "USDT", "market_type": "SPOT"}
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for market_id in ids:  # all at once, as a user enabling a venue's markets would
        assert api.patch(f"/markets/{market_id}", json={"level4_feed_enabled": True}).status_code == 200
    return ids


def sim_limits(sim: SimulatorThread) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{sim.http}/control/limits").json()
    return body


def all_live(service: Service, ids: list[int], seen: set[str]) -> bool:
    states = service.board.snapshot()
    for market_id in ids:
        state = states.get(market_id)
        if state is not None and state.reason:
            seen.add(f"{state.status}: {state.reason}")
    return all(states.get(i) is not None and states[i].status == "live" for i in ids)


def books_equal_reference(api: httpx.Client, sim: SimulatorThread, ids: list[int], names: list[str]) -> None:
    sim.pause()
    for market_id, base in zip(ids, names, strict=True):
        reference = sim.reference(f"{base}-USDT")
        wait_for(
            lambda i=market_id, ref=reference: same_book(api.get(f"/markets/{i}/book").json(), ref, None),
            timeout=10,
            what=f"{base} book equals its reference",
        )


@pytest.fixture
def patched() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp
    venue_limiter.reset()


def test_sixty_binance_markets_start_inside_the_venue_limits(tmp_path: Path, patched: pytest.MonkeyPatch) -> None:
    # 60 snapshots at once would weigh 60 x 50 = 3,000 against a budget of 600 every 2 s,
    # and 60 connects against 20 every 2 s: both must be spread, neither may be exceeded.
    limits = BINANCE.scaled(rest_budget=600, rest_window=2.0, connects=20, connect_window=2.0)
    assert 2 * limits.rest_budget < 60 * SNAPSHOT_WEIGHT
    limits_of_both(patched, limits)
    names = bases(60)
    with ExitStack() as stack:
        sim = stack.enter_context(SimulatorThread("BINANCE", [f"{b}-USDT" for b in names], rate=60, limits=limits))
        service, url = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'limits.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        started = time.monotonic()
        ids = start_markets(api, sim, names)
        seen: set[str] = set()
        wait_for(lambda: all_live(service, ids, seen), timeout=120, interval=0.05, what="60 markets live")
        took = time.monotonic() - started
        state = sim_limits(sim)
        assert state["refusals"] == {}, state
        peaks = state["peaks"]
        assert peaks["rest_weight"]["peak"] <= limits.rest_budget
        assert peaks["rest_weight"]["peak"] >= limits.rest_budget / 2  # the budget was used, not idled away
        assert peaks["connects"]["peak"] <= limits.connects
        assert peaks["sends"]["peak"] <= limits.sends_per_second
        # Spread, not failed: markets waiting their snapshot said so.
        assert any(s.startswith("synchronising: queued") for s in seen), seen
        # The 60 markets share one connection: one attempt, not 60 (connect pacing: tests/net).
        assert peaks["connects"]["peak"] == 1
        assert not any(s.startswith("failed") for s in seen), seen
        # 3,000 weight at 600 a (paced) window cannot be had in under four windows.
        assert took >= 4 * limits.rest_window
        limiter = venue_limiter.limiter_for("BINANCE")
        assert limiter.totals["rest_weight"] == 60 * SNAPSHOT_WEIGHT
        assert limiter.totals["refusals"] == 0
        books_equal_reference(api, sim, ids, names)


def test_a_429_backs_the_venue_off_by_its_retry_after(tmp_path: Path, patched: pytest.MonkeyPatch) -> None:
    # The service believes in a large budget; the venue allows one snapshot every 3 s, answers
    # the next with 429 and Retry-After, and bans (418) any request before Retry-After has passed.
    client = BINANCE.scaled(rest_budget=6000, rest_window=60.0)
    venue = BINANCE.scaled(rest_budget=SNAPSHOT_WEIGHT, rest_window=3.0)
    limits_of_both(patched, client)
    names = bases(3)
    with ExitStack() as stack:
        sim = stack.enter_context(SimulatorThread("BINANCE", [f"{b}-USDT" for b in names], rate=30, limits=venue))
        service, url = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'backoff.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        ids = start_markets(api, sim, names)
        limiter = wait_for(lambda: next(iter(venue_limiter.limiters()), None), what="the venue's limiter")
        backoffs: list[float] = []

        def live_watching_backoff() -> bool:
            remaining = limiter.backoff_remaining()
            if remaining > 0:
                backoffs.append(remaining)
            return all_live(service, ids, set())

        wait_for(live_watching_backoff, timeout=60, interval=0.02, what="3 markets live")
        state = sim_limits(sim)
        refused = state["refusals"].get("rest", 0)
        assert refused >= 1, state  # the client did ask too soon, and was told so
        assert "rest_banned" not in state["refusals"], state  # and never again before Retry-After
        assert limiter.totals["refusals"] == refused
        assert backoffs and max(backoffs) <= 3.0, backoffs  # backed off by the venue's Retry-After
        assert limiter.totals["rest_calls"] == 3 + refused  # each refused fetch asked again, once per refusal
        assert all(service.board.get(i).reconnects == 0 for i in ids)  # waited out, not resynced
        books_equal_reference(api, sim, ids, names)


def test_every_connection_cut_at_once_reconnects_inside_the_venue_limits(
    tmp_path: Path, patched: pytest.MonkeyPatch
) -> None:
    """30 markets on six shared connections; the venue cuts all six at once. The six
    reconnects (against 4 every 2 s) and the 30 snapshots they need (1,500 weight against
    600 every 2 s) are paced: the venue refuses nothing, and every book is exact again.
    Both demands exceed their budgets: more markets would prove the same, only slower."""
    limits = BINANCE.scaled(rest_budget=600, rest_window=2.0, connects=4, connect_window=2.0)
    limits_of_both(patched, limits)
    names = bases(30)
    assert 2 * limits.rest_budget < 30 * SNAPSHOT_WEIGHT and limits.connects < 6  # both must be paced
    with ExitStack() as stack:
        sim = stack.enter_context(SimulatorThread("BINANCE", [f"{b}-USDT" for b in names], rate=60, limits=limits))
        db = f"sqlite:///{tmp_path / 'cut.sqlite3'}"
        service, url = stack.enter_context(running_service(db, subscriptions_per_connection=5))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        ids = start_markets(api, sim, names)
        seen: set[str] = set()
        wait_for(lambda: all_live(service, ids, seen), timeout=120, interval=0.05, what="30 markets live")
        clients = list(sim.sim.clients)
        assert len(clients) == 6
        before = {i: service.board.get(i).reconnects for i in ids}
        cut = [
            asyncio.run_coroutine_threadsafe(c.connection.close(1011, "cut"), sim.loop) for c in clients
        ]  # all at once
        for done in cut:
            done.result(5)
        wait_for(lambda: all(service.board.get(i).reconnects > before[i] for i in ids), timeout=30, what="all cut")
        wait_for(lambda: all_live(service, ids, seen), timeout=120, interval=0.05, what="30 markets live again")
        state = sim_limits(sim)
        assert state["refusals"] == {}, state
        peaks = state["peaks"]
        assert peaks["connects"]["peak"] <= limits.connects and peaks["rest_weight"]["peak"] <= limits.rest_budget
        assert not any(s.startswith("failed") for s in seen), seen
        assert venue_limiter.limiter_for("BINANCE").totals["refusals"] == 0
        books_equal_reference(api, sim, ids, names)
