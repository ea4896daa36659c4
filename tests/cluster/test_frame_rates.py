"""A market's weight: its frame rate, smoothed over a window."""

from __future__ import annotations

import pytest

from level4.cluster.frame_rates import FrameRates


def test_the_first_interval_seeds_the_rate_and_later_ones_move_it_by_the_window() -> None:
    counters = {1: 0}
    rates = FrameRates(lambda m: counters[m], window=60.0)
    assert rates.sample([1], 0.0) == {}  # one look measures nothing
    counters[1] = 100
    assert rates.sample([1], 10.0) == {1: pytest.approx(10.0)}
    counters[1] = 100 + 10 * 40  # a burst of 40 a second for 10 s
    burst = rates.sample([1], 20.0)[1]
    assert 10.0 < burst < 20.0  # a short burst moves the average only part of the way
    for t in range(30, 1000, 10):  # a market that stays at 40 a second shows it
        counters[1] += 400
        settled = rates.sample([1], float(t))[1]
    assert settled == pytest.approx(40.0, rel=1e-3)


def test_a_market_no_longer_running_is_forgotten_and_a_counter_going_back_measures_nothing() -> None:
    counters = {1: 50, 2: 0}
    rates = FrameRates(lambda m: counters[m], window=5.0)
    rates.sample([1, 2], 0.0)
    counters[1], counters[2] = 60, 20
    assert rates.sample([1, 2], 1.0) == {1: pytest.approx(10.0), 2: pytest.approx(20.0)}
    assert rates.sample([2], 2.0) == {2: pytest.approx(20.0 + (1 - 2.718281828**-0.2) * (0 - 20.0))}
    counters[2] = 5
    assert rates.sample([2], 3.0)[2] < 20.0  # unchanged by the reset


def test_a_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FrameRates(lambda m: 0, window=0)
