"""The venue limiter paces within the venue's windows: by a fake clock (exact
slots, order, backoff, cancellation) and on a real event loop."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

import translations
from level4.net import venue_limiter
from level4.net.venue_limiter import MARGIN, VenueLimiter, Window, limiter_for, retry_after
from translations.venue_limits import VenueLimits

LIMITS = VenueLimits(
    connects=3,
    connect_window=10.0,
    streams_per_connection=10,
    sends_per_second=5,
    rest_budget=100,
    rest_window=10.0,
    rest_weights=((100, 5), (500, 25), (1000, 50)),
    rest_weight_default=250,
    retry_after=30.0,
)


class FakeClock:
    """Simulated time: a sleeper wakes when every earlier sleeper has, and the
    clock jumps to its moment. Only the limiter's own pacing moves time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = 0
        self._waking = False

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._count += 1
        heapq.heappush(self._sleepers, (self.now + seconds, self._count, future))
        if not self._waking:
            self._waking = True
            loop.call_soon(self._wake_next)
        await future

    def _wake_next(self) -> None:
        """Wake the earliest sleeper; the next wakes only after it has run on."""
        self._waking = False
        while self._sleepers:
            at, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                self.now = max(self.now, at)
                future.set_result(None)
                break
        if self._sleepers:
            self._waking = True
            asyncio.get_running_loop().call_soon(self._wake_next)


def most_in_any_window(times: list[float], weights: list[float], seconds: float) -> float:
    """The heaviest sum of events inside any window of `seconds` (ending at an event)."""
    pairs = sorted(zip(times, weights, strict=True))
    return max(sum(w for t, w in pairs if end - seconds < t <= end) for end, _ in pairs)


def test_window_slots_never_hold_more_than_the_limit() -> None:
    window = Window(5, 1.0)
    slots = [window.reserve(1, 0.0, 0.0)[0] for _ in range(12)]
    assert slots[:5] == [0.0] * 5
    assert slots[5:10] == [1.0] * 5  # the first five leave the window together
    assert slots[10:] == [2.0, 2.0]
    assert most_in_any_window(slots, [1] * 12, 1.0) == 5


def test_weights_fill_the_budget_and_a_call_heavier_than_it_waits_for_an_empty_window() -> None:
    window = Window(100, 10.0)
    slots = [window.reserve(w, 0.0, 0.0)[0] for w in (50, 25, 25, 50, 500)]
    assert slots == [0.0, 0.0, 0.0, 10.0, 20.0]
    assert window.used(0.0) == 100
    assert window.available(0.0) == 0


def test_a_cancelled_reservation_gives_its_slot_back() -> None:
    window = Window(1, 1.0)
    window.reserve(1, 0.0, 0.0)
    late = window.reserve(1, 0.0, 0.0)
    assert late[0] == 1.0
    window.cancel(late)
    assert window.peek(1, 0.0, 0.0) == 1.0  # still after the first, but not after a ghost
    assert window.reserve(1, 0.0, 0.0)[0] == 1.0


def test_binance_depth_weights_follow_the_published_table() -> None:
    limits = translations.limits_for("BINANCE")
    assert [limits.rest_weight(f"/api/v3/depth?symbol=BTCUSDT&limit={n}") for n in (5, 100, 101, 500, 1000)] == [
        5,
        5,
        25,
        25,
        50,
    ]
    assert limits.rest_weight("/api/v3/depth?symbol=BTCUSDT&limit=5000") == 250
    assert limits.rest_weight("/api/v3/depth?symbol=BTCUSDT") == 5  # the venue's default limit, 100
    assert limits.rest_weight(translations.scheme_for("BINANCE").depth_path("BTCUSDT")) == 50  # type: ignore[attr-defined]
    assert translations.limits_for("BITSTAMP").rest_weight("/api/v2/order_book/btcusd/") == 1


def test_every_venue_api_states_its_limits() -> None:
    for name in translations.names():
        for scheme in translations.schemes_of(name):
            limits = translations.limits_of(scheme)
            assert limits.connects > 0 and limits.connect_window > 0, name
            assert limits.streams_per_connection > 0 and limits.sends_per_second > 0, name
            assert limits.rest_budget > 0 and limits.rest_window > 0, name
    assert translations.limits_for("BINANCE").max_lifetime == 24 * 3600
    usdm = translations.limits_for("BINANCE", "usdm")
    depth = translations.scheme_for("BINANCE", "usdm").depth_path("BTCUSDT")  # type: ignore[attr-defined]
    assert usdm.rest_budget == 2400 and usdm.rest_weight(depth) == 20
    assert translations.limits_for("KRAKEN", "futures").sends_per_second == 100


async def test_sends_are_paced_per_connection_in_order() -> None:
    clock = FakeClock()
    limiter = VenueLimiter("TEST", LIMITS, clock=clock, sleep=clock.sleep)
    sent: list[tuple[str, int, float]] = []

    async def sender(conn: str, n: int) -> None:
        for i in range(n):
            await limiter.send(conn)
            sent.append((conn, i, clock.now))

    await asyncio.gather(sender("a", 12), sender("b", 3))
    a_times = [t for conn, _, t in sent if conn == "a"]
    assert [i for conn, i, _ in sent if conn == "a"] == list(range(12))  # in the order asked
    assert most_in_any_window(a_times, [1] * 12, 1.0 + MARGIN) == 5
    assert a_times[-1] - a_times[0] >= 2 * (1.0 + MARGIN)
    spacing = (1.0 + MARGIN) / LIMITS.sends_per_second
    burst = LIMITS.sends_per_second // 2  # a quiet connection's first frames go at once
    assert a_times[:burst] == [1000.0] * burst
    # then evenly spread, no bursts at the window's edges
    assert all(later - earlier >= spacing - 1e-9 for earlier, later in itertools.pairwise(a_times[burst - 1 :]))
    b_times = [t for conn, _, t in sent if conn == "b"]
    assert b_times == [1000.0, 1000.0, 1000.0 + spacing]  # another connection paces on its own
    assert limiter.totals["sends"] == 15
    limiter.forget("a")
    assert limiter.state()["send_connections"] == 1


async def test_rest_weight_is_spread_and_reported_as_a_wait() -> None:
    clock = FakeClock()
    limiter = VenueLimiter("TEST", LIMITS, clock=clock, sleep=clock.sleep)
    assert limiter.rest_wait(50) == 0.0
    done: list[float] = []

    async def fetch() -> None:
        await limiter.rest(50)
        done.append(clock.now)

    tasks = [asyncio.ensure_future(fetch()) for _ in range(6)]
    await asyncio.sleep(0)
    assert limiter.waiting["rest"] == 4  # two fit the budget now, four wait their turn
    assert limiter.rest_wait(50) == pytest.approx(3 * 10.0 * (1 + MARGIN))
    await asyncio.gather(*tasks)
    assert most_in_any_window(done, [50] * 6, 10.0 * (1 + MARGIN)) == 100
    assert limiter.totals["rest_weight"] == 300 and limiter.totals["rest_calls"] == 6


async def test_a_refusal_holds_connects_and_rest_but_not_sends_on_open_connections() -> None:
    clock = FakeClock()
    limiter = VenueLimiter("TEST", LIMITS, clock=clock, sleep=clock.sleep)
    until = limiter.refused("HTTP 429", retry_after=7.5)
    assert until == 1007.5 and limiter.backoff_remaining() == 7.5
    assert limiter.refused("HTTP 429 again", retry_after=2.0) == 1007.5  # refusals do not stack up
    await limiter.send("open")
    assert clock.now == 1000.0
    await limiter.rest(5)
    assert clock.now == 1007.5
    limiter.refused("closed 1008")  # no Retry-After: the venue's documented default
    await limiter.connect()
    assert clock.now == 1007.5 + 30.0
    state = limiter.state()
    assert state["totals"]["refusals"] == 3 and state["backoff_remaining"] == 0
    assert state["queued"] == {"connect": 0, "send": 0, "rest": 0}


async def test_a_waiter_caught_by_a_later_refusal_waits_it_out() -> None:
    clock = FakeClock()
    limiter = VenueLimiter("TEST", LIMITS.scaled(rest_budget=50), clock=clock, sleep=clock.sleep)
    await limiter.rest(50)

    async def refuse_soon() -> None:
        await asyncio.sleep(0)
        limiter.refused("429", retry_after=100.0)

    waiter = asyncio.ensure_future(limiter.rest(50))
    await refuse_soon()
    await waiter
    assert clock.now >= 1100.0  # not at its old slot (1011): behind the backoff


async def test_cancelled_waiters_leave_no_slot_behind() -> None:
    clock = FakeClock()
    limiter = VenueLimiter("TEST", LIMITS, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.connect()
    task = asyncio.ensure_future(limiter.connect())
    await asyncio.sleep(0)
    assert limiter.waiting["connect"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.waiting["connect"] == 0
    assert len(limiter.connects._events) == 3


async def test_on_a_real_loop_the_pace_holds() -> None:
    limits = LIMITS.scaled(connects=4, connect_window=0.3)
    limiter = VenueLimiter("TEST", limits)
    stamps: list[float] = []

    async def attempt() -> None:
        await limiter.connect()
        stamps.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(attempt() for _ in range(10)))
    # A busy machine may wake a waiter late, never early: the k-th attempt goes no sooner
    # than k // 4 paced windows after the start (its turn), whatever the load.
    paced = 0.3 * (1 + MARGIN)
    for k, stamp in enumerate(sorted(stamps)):
        assert stamp - started >= (k // 4) * paced - 0.01, (k, stamp - started)
    assert limiter.totals["connects"] == 10 and limiter.totals["waits"] == 6


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    soon = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= (retry_after({"Retry-After": format_datetime(soon, usegmt=True)}) or 0) <= 31
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None
    assert retry_after(None) is None


def test_one_limiter_per_venue_and_egress_made_afresh_when_limits_change() -> None:
    venue_limiter.reset()
    try:
        first = limiter_for("binance")
        assert limiter_for("BINANCE") is first
        assert first.limits == translations.limits_for("BINANCE")
        assert limiter_for("BINANCE", egress="10.0.0.2") is not first
        smaller = first.limits.scaled(rest_budget=10)
        assert limiter_for("BINANCE", limits=smaller) is not first
        usdm = limiter_for("BINANCE", api="usdm")
        assert usdm is not first and usdm.limits == translations.limits_for("BINANCE", "usdm")
        assert [(lim.api, lim.egress) for lim in venue_limiter.limiters()] == [("", ""), ("", "10.0.0.2"), ("usdm", "")]
    finally:
        venue_limiter.reset()


def test_unknown_limit_names_are_refused() -> None:
    with pytest.raises(TypeError, match="no such limit"):
        LIMITS.scaled(speed=3)


async def test_a_slow_attempt_counts_from_when_it_ended() -> None:
    clock = FakeClock()
    limiter = VenueLimiter("TEST", LIMITS.scaled(connects=1, connect_window=10.0), clock=clock, sleep=clock.sleep)
    slot = await limiter.connect()
    clock.now += 8.0  # the handshake took 8 s to be answered: the venue saw it then
    limiter.settled(slot)
    await limiter.connect()
    assert clock.now == 1008.0 + 10.0 * (1 + MARGIN)  # a window after the arrival, not after the start
    fast = limiter.weight.reserve(5, clock.now, clock.now)
    limiter.weight.settle(fast, clock.now - 1)  # answered before its turn: nothing moves
    assert fast[0] == clock.now


async def test_waiters_already_in_line_move_back_when_an_earlier_attempt_settles_late() -> None:
    clock = FakeClock()
    limiter = VenueLimiter("TEST", LIMITS.scaled(connects=1, connect_window=10.0), clock=clock, sleep=clock.sleep)
    first = await limiter.connect()
    waiter = asyncio.ensure_future(limiter.connect())
    await asyncio.sleep(0)  # in line, asleep until 1011
    assert limiter.waiting["connect"] == 1 and limiter.connect_wait() == pytest.approx(22.0)
    clock.now = 1008.0
    limiter.settled(first)  # the first handshake reached the venue only now
    await waiter
    assert clock.now == pytest.approx(1008.0 + 11.0)  # a paced window after its arrival, not 1011
