"""The C ladder against its pure Python twin and a plain model.

The C ladder exists in a compiled build only (`LEVEL4_COMPILE=1 pip install
-e .`); .ci/run's compiled pass sets LEVEL4_REQUIRE_NATIVE=1, so there
these tests cannot skip."""

from __future__ import annotations

import os
import random
import zlib
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from level4.book import ladder, pyladder
from level4.book.orderbook import OrderBook


def _native() -> ModuleType | None:
    try:
        from level4.book import _ladder
    except ImportError:
        if os.environ.get("LEVEL4_REQUIRE_NATIVE") == "1":
            raise
        return None
    return _ladder


native = _native()
needs_native = pytest.mark.skipif(native is None, reason="the C ladder is not built (pure Python install)")
IMPLEMENTATIONS = [pytest.param(pyladder, id="python"), pytest.param(native, id="c", marks=needs_native)]


def test_books_use_the_c_ladder_whenever_it_is_built() -> None:
    assert ladder.NATIVE is (native is not None)
    assert type(OrderBook("X").bids).__module__ == ("level4.book._ladder" if native else "level4.book.pyladder")


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_random_changes_match_a_sorted_model(impl: Any) -> None:
    rng = random.Random(11)
    for sign in (1.0, -1.0):
        side = impl.Ladder(sign)
        model: dict[Decimal, tuple[str, str]] = {}
        for step in range(3000):
            ticks = rng.randint(9_900, 10_100)
            price = f"{ticks / 100:.2f}" if rng.random() < 0.5 else f"{ticks / 100:.5f}"  # same level, other text
            size = "0.000" if rng.random() < 0.3 else f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
            side.apply([[price, size, "venue's own extra field"]])
            if Decimal(size) == 0:
                model.pop(Decimal(price), None)
            else:
                model[Decimal(price)] = (price, size)
            if step % 53 == 0:
                expected = [model[p] for p in sorted(model, reverse=sign > 0)]
                assert side.levels() == expected
                assert side.levels(3) == expected[:3] and side.levels(0) == [] and side.levels(-2) == []
                assert side.best() == (expected[0] if expected else None)
                assert len(side) == len(expected)
                best = side.best_rank()
                assert best == (sign * float(expected[0][0]) if expected else None)
        side.truncate(4)
        assert side.levels() == [model[p] for p in sorted(model, reverse=sign > 0)][:4]
        side.clear()
        assert side.levels() == [] and side.best() is None and len(side) == 0


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_snapshots_skip_zero_sizes_keep_the_last_duplicate_and_take_any_order(impl: Any) -> None:
    side = impl.Ladder(-1.0)
    side.replace([("3", "1"), ("1", "1"), ("2", "0"), ("1.0", "5"), ("2.5", "2")])
    assert side.levels() == [("1.0", "5"), ("2.5", "2"), ("3", "1")]
    side.replace([("1", "1"), ("2", "1")])  # asks best first: already in order
    assert side.levels() == [("1", "1"), ("2", "1")]
    side.replace([])
    assert side.levels() == []


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_counts_come_from_tuples_a_scheme_built_and_never_from_a_venues_list(impl: Any) -> None:
    side = impl.Ladder(1.0)
    side.apply([("10", "1", 3), ["9", "2", 1700000000.5]])
    assert side.levels() == [("10", "1", 3), ("9", "2")]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "bad",
    [
        [("2", "1"), ("x", "1")],
        [("2", "1"), ("3",)],
        [("2", "1"), 5],
        [("2", "1"), ("3", None)],
        [("2", "1"), ("", "1")],
        [("2", "1"), "12"],
        [("2", "1"), ("nan", "1")],
        [("2", "1"), ("inf", "1")],
        [("2", "1"), ("3", "-1")],
        [("2", "1"), ("3", "nan")],
        [("2", "1"), {"price": "3", "size": "1"}],
        "not levels",
    ],
)
def test_a_bad_level_changes_nothing(impl: Any, bad: Any) -> None:
    side = impl.Ladder(1.0)
    side.replace([("1", "1")])
    with pytest.raises((ValueError, TypeError, IndexError)):
        side.apply(bad)
    with pytest.raises((ValueError, TypeError, IndexError)):
        side.replace(bad)
    assert side.levels() == [("1", "1")]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_prices_are_read_as_float_reads_them(impl: Any) -> None:
    side = impl.Ladder(1.0)
    texts = ["1e2", " 100.5 ", "1_000", "0.1", "123456789012345678901", "9007199254740993", "-0", "+7", "-3.5"]
    side.apply([(t, "1") for t in texts] + [(2.5, "1"), (3, "1")])
    assert sorted(float(lv[0]) for lv in side.levels()) == sorted({float(t) for t in texts} | {2.5, 3.0})


@needs_native
@settings(max_examples=300, deadline=None)
@given(
    digits=st.text("0123456789", min_size=1, max_size=24),
    point=st.integers(min_value=0, max_value=24),
    negative=st.booleans(),
)
def test_the_fast_decimal_parse_is_exactly_float(digits: str, point: int, negative: bool) -> None:
    assert native is not None
    text = ("-" if negative else "") + digits[:point] + "." + digits[point:]
    side = native.Ladder(1.0)
    side.apply([(text, "1")])
    rank = side.best_rank()
    assert rank == float(text) and str(rank) == str(float(text))


level_st = st.tuples(
    st.integers(min_value=1, max_value=60).map(lambda t: f"{t / 4:.2f}"),
    st.sampled_from(["0", "0.0", "1", "2.50", "0.001"]),
)
ops_st = st.lists(
    st.tuples(st.sampled_from(["apply", "replace", "truncate"]), st.lists(level_st, max_size=12), st.integers(0, 8)),
    max_size=40,
)


@needs_native
@settings(max_examples=200, deadline=None)
@given(sign=st.sampled_from([1.0, -1.0]), ops=ops_st)
def test_c_and_python_ladders_agree_on_every_read(sign: float, ops: list[tuple[str, list[Any], int]]) -> None:
    assert native is not None
    c, py = native.Ladder(sign), pyladder.Ladder(sign)
    other_c, other_py = native.Ladder(-sign), pyladder.Ladder(-sign)
    for name, levels, depth in ops:
        if name == "truncate":
            c.truncate(depth)
            py.truncate(depth)
        else:
            getattr(c, name)(levels)
            getattr(py, name)(levels)
            getattr(other_c, name)(levels[::-1])
            getattr(other_py, name)(levels[::-1])
        assert c.levels() == py.levels() and c.levels(depth) == py.levels(depth)
        assert c.best() == py.best() and c.best_rank() == py.best_rank() and len(c) == len(py)
        for options in ({"digits": True}, {"interleave": True, "sep": ":"}, {"sep": ":"}):
            assert native.checksum_text(c, other_c, depth, **options) == pyladder.checksum_text(
                py, other_py, depth, **options
            )


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_checksum_text_of_the_venues_rules(impl: Any) -> None:
    bids, asks = impl.Ladder(1.0), impl.Ladder(-1.0)
    bids.replace([("0.0500", "1.00"), ("0.04", "20")])
    asks.replace([("0.06", "0.5"), ("0.07", "3"), ("0.08", "1")])
    # Kraken: asks then bids, digits only, no leading zeros
    assert impl.checksum_text(asks, bids, 2, digits=True) == b"6573500100420"
    # OKX: interleaved, "price:size" joined by ":"
    assert impl.checksum_text(bids, asks, 25, interleave=True, sep=":") == (
        b"0.0500:1.00:0.06:0.5:0.04:20:0.07:3:0.08:1"
    )
    assert zlib.crc32(impl.checksum_text(bids, asks, 0, interleave=True, sep=":")) == zlib.crc32(b"")
