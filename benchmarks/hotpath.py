"""Part 1, the hot path: recorded venue sessions through level4's full
per-frame work, beside cryptofeed's playback of the same files and beside
orjson parsing them and nothing else.

level4's figure is `level4.replay`'s own frame loop (the code `level4
replay` runs): parse, translate, sync checks, REST snapshots joined,
checksums verified, book updated, top-of-book and trade events produced,
one frame at a time. Every side is timed on frames already in memory and
the best of several runs is kept, so file reading and warm-up are out. The
clock is the timing thread's CPU time: on a machine shared with other work,
wall time would count the moments another process held the core.
"""

from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from benchmarks import cryptofeed_env
from benchmarks.report import Table
from level4.replay import capture
from level4.replay.replayer import Replay, load
from translations import scheme_for_url


@dataclass(frozen=True)
class Venue:
    label: str  # as printed
    scheme: str  # level4's scheme
    cryptofeed: str  # cryptofeed's exchange name
    prefix: str  # capture file prefix


VENUES = [
    Venue("BINANCE", "BINANCE", "BINANCE", "BINANCE"),
    Venue("BITFINEX", "BITFINEX", "BITFINEX", "BITFINEX"),
    Venue("BITFLYER", "BITFLYER", "BITFLYER", "BITFLYER"),
    Venue("BITMEX", "BITMEX", "BITMEX", "BITMEX"),
    Venue("BITSTAMP", "BITSTAMP", "BITSTAMP", "BITSTAMP"),
    Venue("BYBIT", "BYBIT", "BYBIT", "BYBIT"),
    Venue("COINBASE", "COINBASE", "COINBASE", "COINBASE"),
    Venue("DERIBIT", "DERIBIT", "DERIBIT", "DERIBIT"),
    Venue("GEMINI", "GEMINI", "GEMINI", "GEMINI"),
    Venue("HITBTC api/2", "HITBTC", "HITBTC", "HITBTC"),
    Venue("HITBTC api/3 (FMFW)", "HITBTC", "FMFW", "FMFW"),
    Venue("KRAKEN v1", "KRAKEN", "KRAKEN", "KRAKEN"),
    Venue("OKX", "OKX", "OKX", "OKX"),
    Venue("POLONIEX", "POLONIEX", "POLONIEX", "POLONIEX"),
]


# Venues whose cryptofeed feed can verify the venue's checksums as level4 always
# does (its `checksum_validation`, off by default): timed both ways.
CRYPTOFEED_CHECKSUMS = frozenset({"KRAKEN", "OKX"})


@dataclass
class Result:
    venue: Venue
    frames: int
    level4: float  # best seconds for all frames
    orjson: float
    cryptofeed: float | None = None
    cryptofeed_frames: int | None = None
    cryptofeed_note: str = ""
    cryptofeed_checked: float | None = None  # with cryptofeed's checksum validation on


def level4_files(captures: Path, venue: Venue) -> list[Path]:
    ws = sorted(captures.glob(f"{venue.prefix}.ws.*"))
    return ws + [p for w in ws[:1] for p in capture.companions(w)]


def time_level4(venue: Venue, files: list[Path], repeats: int) -> tuple[int, float]:
    """Best time of the replayer's frame loop over every connection."""
    scheme = scheme_for_url(venue.scheme, capture.url_of(files))  # the API the session spoke (Kraken's v1)
    session = load(scheme, files)
    frames = sum(len(c.frames) for c in session.connections)
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        elapsed = 0.0
        for conn in session.connections:
            rp = Replay(scheme, conn, session.rest)
            feed = rp.feed
            started = time.thread_time()
            for received, raw in conn.frames:
                feed(received, raw)
            rp.finish()
            elapsed += time.thread_time() - started
        best = min(best, elapsed)
    return frames, best


def time_orjson(files: list[Path], repeats: int) -> float:
    """Parsing what level4 parses: every received frame, and the recorded REST
    answers (Binance's and Bitstamp's book snapshots) that it joins to them."""
    raws: list[str] = []
    for f in files:
        for rec in capture.read(f):
            if isinstance(rec, capture.Received):
                raws.append(rec.frame)
            elif isinstance(rec, capture.HttpAnswer):
                raws.append(rec.body)
    loads = orjson.loads
    best = float("inf")
    for _ in range(repeats):
        started = time.thread_time()
        for raw in raws:
            with contextlib.suppress(orjson.JSONDecodeError):
                loads(raw)
        best = min(best, time.thread_time() - started)
    return best


def _least(best: float | None, seconds: float) -> float:
    return seconds if best is None else min(best, seconds)


def run(
    captures: Path, repeats: int = 7, with_cryptofeed: bool = True, only: list[str] | None = None, rounds: int = 3
) -> list[Result]:
    """Each venue timed in `rounds` rounds, each running every side `repeats`
    times in turn; the best of all is kept. The machine's speed drifts over
    seconds (other work, the host), and interleaving lets a slow spell touch
    both sides of a ratio alike."""
    cf_python: Path | None = None
    cf_note = ""
    if with_cryptofeed:
        cf_python, cf_note = cryptofeed_env.ensure()
    else:
        cf_note = "not run (--no-cryptofeed)"
    results: list[Result] = []
    for venue in VENUES:
        if only and venue.label not in only and venue.scheme not in only:
            continue
        files = level4_files(captures, venue)
        if not files:
            continue
        cf_files = sorted(captures.glob(f"{venue.prefix}.*"))
        result: Result | None = None
        for round_ in range(rounds):
            frames, best = time_level4(venue, files, repeats)
            floor = time_orjson(files, repeats)
            if result is None:
                result = Result(venue, frames, best, floor, cryptofeed_note=cf_note)
            result.level4, result.orjson = min(result.level4, best), min(result.orjson, floor)
            if cf_python is None or (round_ > 0 and result.cryptofeed is None):
                continue  # no cryptofeed here, or it cannot replay this capture
            answer = cryptofeed_env.playback(cf_python, venue.cryptofeed, cf_files, repeats)
            if "error" in answer:
                result.cryptofeed_note = f"cryptofeed cannot replay it: {answer['error']}"
                continue
            result.cryptofeed = _least(result.cryptofeed, min(answer["seconds"]))
            result.cryptofeed_frames = int(answer["frames"])
            if venue.cryptofeed in CRYPTOFEED_CHECKSUMS:
                checked = cryptofeed_env.playback(cf_python, venue.cryptofeed, cf_files, repeats, checksums=True)
                if "error" not in checked:
                    result.cryptofeed_checked = _least(result.cryptofeed_checked, min(checked["seconds"]))
        assert result is not None
        results.append(result)
    return results


def table(results: list[Result]) -> Table:
    t = Table(
        [
            "venue",
            "frames",
            "level4 frames/s",
            "cryptofeed frames/s",
            "level4 / cryptofeed",
            "orjson frames/s",
            "level4 time / orjson",
        ]
    )
    for r in results:
        fps = r.frames / r.level4
        cf_fps = r.cryptofeed_frames / r.cryptofeed if r.cryptofeed and r.cryptofeed_frames else None
        t.add(
            r.venue.label,
            r.frames,
            f"{fps:,.0f}",
            f"{cf_fps:,.0f}" if cf_fps else "-",
            f"{fps / cf_fps:.2f}x" if cf_fps else "-",
            f"{r.frames / r.orjson:,.0f}",
            f"{r.level4 / r.orjson:.1f}x",
        )
    return t


def notes(results: list[Result]) -> list[str]:
    out = []
    for r in results:
        if r.cryptofeed_note:
            out.append(f"{r.venue.label}: {r.cryptofeed_note}")
        elif r.cryptofeed_frames is not None and r.cryptofeed_frames != r.frames:
            out.append(f"{r.venue.label}: cryptofeed counted {r.cryptofeed_frames} frames, level4 {r.frames}")
        if r.cryptofeed_checked and r.cryptofeed_frames:
            fps = r.cryptofeed_frames / r.cryptofeed_checked
            out.append(
                f"{r.venue.label}: cryptofeed verifying the checksums too (checksum_validation=True): "
                f"{fps:,.0f} frames/s; level4 / cryptofeed {r.frames / r.level4 / fps:.2f}x"
            )
    return out
