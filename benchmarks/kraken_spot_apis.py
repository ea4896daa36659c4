"""Kraken spot v2 against v1 on the same order flow: what reading JSON-number
levels and writing them to the pair's precision costs next to v1's strings.

    .venv/bin/python -m benchmarks.kraken_spot_apis [--steps 20000] [--repeat 5]

The simulator's order flow is rendered once by each API's dialect (every
frame a client subscribed at depth 1000 receives, checksums included), then
the frames go through what the service runs per frame: the Translator (parse,
translate) and the BookKeeper (apply, truncate, verify every checksum). Best
of the repeats, CPU time of this thread.
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper, Report
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession, SimMarket
from level4.simulator.orderflow import OrderFlow
from translations import scheme_for
from translations.protocol import Instruction, MarketType, Scheme

PAIRS = (("BTC", "USD", 1), ("ETH", "EUR", 2))  # base, quote, price decimals
NOW = 1_800_000_000.0


def rendered(api: str, steps: int) -> tuple[Scheme, list[Any], list[str]]:
    """The scheme, its instruments and every frame a subscribed client receives."""
    scheme, dialect = scheme_for("KRAKEN", api), dialect_for("KRAKEN", api)
    markets: dict[str, SimMarket] = {}
    flows: list[OrderFlow] = []
    for n, (base, quote, decimals) in enumerate(PAIRS):
        instrument = scheme.instrument(base, quote, MarketType.SPOT)
        market = markets[instrument.symbol] = SimMarket(instrument, OrderBook(instrument.symbol))
        flow = OrderFlow(market, seed=7 + n, tick_decimals=decimals)
        flow.levels = 100
        flow.seed_book()
        flows.append(flow)
    instruments = [m.instrument for m in markets.values()]
    session, frames = ClientSession(), []
    for request in scheme.subscribe_msg(scheme.initial_state(instruments)):
        frames += dialect.on_client_frame(session, orjson.loads(request), markets, NOW)
    for n in range(steps):
        flow = flows[n % len(flows)]
        step = flow.step(NOW + n / 1000)
        frames += dialect.on_book_change(session, flow.market, step.bids, step.asks, NOW + n / 1000)
        if step.trade is not None:
            frames += dialect.on_trade(session, flow.market, step.trade, NOW + n / 1000)
    return scheme, instruments, frames


def timed(scheme: Scheme, instruments: list[Any], frames: list[str]) -> tuple[float, int, int]:
    """Seconds for all frames, checksums verified, checksum failures."""
    tr = Translator(scheme, instruments)
    keeper = BookKeeper([i.symbol for i in instruments], scheme.checksum)
    work = ConnectionWork()
    batch: list[Instruction] = []
    events: list[MarketEvent] = []
    reports: list[Report] = []
    gc.collect()
    started = time.thread_time()
    for raw in frames:
        tr.feed_raw(raw, batch, work)
        keeper.apply(batch, events, reports)
        batch.clear()
        events.clear()
        work.clear()
    elapsed = time.thread_time() - started
    return elapsed, keeper.checksums_verified, keeper.checksum_failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'api':4} {'frames':>7} {'frames/s':>10} {'µs/frame':>9} {'verified':>9} {'failed':>7}")
    for api in ("v1", ""):
        scheme, instruments, frames = rendered(api, args.steps)
        best, verified, failed = min(timed(scheme, instruments, frames) for _ in range(args.repeat))
        label = api or "v2"
        print(
            f"{label:4} {len(frames):>7} {len(frames) / best:>10,.0f} {best / len(frames) * 1e6:>9.2f}"
            f" {verified:>9} {failed:>7}"
        )


if __name__ == "__main__":
    main()
