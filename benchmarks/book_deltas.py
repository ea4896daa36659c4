"""What producing book deltas costs the book's hot path.

The orderbook actor always asks its BookKeeper for BookDelta events (one
per update, plus a copy of the whole book per snapshot and the levels a
truncation drops), so that a market's events never depend on who listens.
This replays every recorded venue session through the same Translator and
BookKeeper as `level4 replay`, once without deltas and once with, and
prints the best time of several runs each. Events are dropped after every
frame, as the live actor hands them on, so their accumulation is not timed.

    .venv/bin/python -m benchmarks.book_deltas [CAPTURES_DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from level4.replay import capture
from level4.replay.replayer import Replay, Session, load
from translations import UnknownVenue, scheme_for_url
from translations.protocol import Scheme

DEFAULT_CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "captures"


def drop_events(_received: float, _raw: str, rp: Replay) -> None:
    rp.events.clear()


def timed(scheme: Scheme, session: Session, deltas: bool) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    frames = 0
    for conn in session.connections:
        rp = Replay(scheme, conn, session.rest)
        rp.keeper.deltas = deltas
        for received, raw in conn.frames:
            rp.feed(received, raw)
            drop_events(received, raw, rp)
        rp.finish()
        frames += len(conn.frames)
    return time.perf_counter() - started, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("captures", nargs="?", type=Path, default=DEFAULT_CAPTURES)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    venues = sorted({p.name.split(".")[0] for p in args.captures.glob("*.ws.*")})
    print(f"{'venue':10} {'frames':>8} {'without µs/frame':>17} {'with µs/frame':>14} {'cost':>7}")
    for venue in venues:
        files = sorted(args.captures.glob(f"{venue}.ws.*"))
        paths = [*files, *(p for f in files for p in capture.companions(f))]
        try:
            scheme = scheme_for_url(venue, capture.url_of(paths))  # the API the session spoke (Kraken's v1)
        except UnknownVenue:
            continue
        session = load(scheme, paths)
        best: dict[bool, float] = {}
        frames = 0
        for _ in range(args.repeat):
            for deltas in (False, True):
                seconds, frames = timed(scheme, session, deltas)
                best[deltas] = min(best.get(deltas, seconds), seconds)
        if not frames:
            continue
        off, on = best[False] / frames * 1e6, best[True] / frames * 1e6
        print(f"{venue:10} {frames:>8} {off:>17.2f} {on:>14.2f} {(on / off - 1) * 100:>6.1f}%")


if __name__ == "__main__":
    main()
