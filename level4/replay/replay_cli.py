"""`level4 replay`: recorded frames through the real scheme and book code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from level4.journal.format import JournalError
from level4.journal.journal_replay import JournalReplay, replay_journal
from level4.replay import capture
from level4.replay.replayer import Replay, Summary, replay_session
from translations import UnknownVenue, names, scheme_for_url, schemes_of
from translations.protocol import Scheme


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay", help="replay recorded venue sessions with no network")
    p.add_argument("--venue", help="venue name, e.g. COINBASE (cryptofeed captures; a journal names its own)")
    p.add_argument(
        "--format",
        default="cryptofeed",
        choices=["cryptofeed", "level4"],
        help="cryptofeed raw captures, or a journal written by `level4 serve --journal`",
    )
    p.add_argument(
        "files",
        nargs="+",
        type=Path,
        help="capture files (REST answers, .http., and the instrument list, .0, beside them are found); "
        "for level4: journal directories or files",
    )
    p.add_argument("--books-json", type=Path, help="write every market's final book here")
    p.add_argument("--events-jsonl", type=Path, help="level4 format: write every event published, one per line")
    p.add_argument("--repeat", type=int, default=1, help="replay the whole capture N times (benchmarking)")
    p.set_defaults(func=run)


def books_by_tag(venue: str, replays: list[Replay]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for rp in replays:
        tags = {i.symbol: i.tag(venue) for i in rp.translator.instruments}
        for symbol, book in rp.keeper.books.items():
            out[tags.get(symbol, f"{venue}:{symbol}")] = {**book.as_dict(), "reason": book.reason}
    return out


def summary_line(summary: Summary, books: dict[str, dict[str, Any]]) -> str:
    """The last line printed, the same for every format."""
    line = {
        "frames": summary.frames,
        "seconds": round(summary.seconds, 6),
        "markets": summary.markets,
        "trades": summary.trades,
        "resyncs": summary.resyncs,
        "malformed": summary.malformed,
        "ignored": summary.ignored,
        "checksums_verified": summary.checksums_verified,
        "checksum_failures": summary.checksum_failures,
        "unplaced": summary.unplaced,
        "off_tick": summary.off_tick,
        "unsynchronised": sorted(t for t, b in books.items() if not b["synchronised"]),
    }
    return orjson.dumps(line).decode() + "\n"


def _fail(message: str) -> int:
    print(f"level4 replay: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        return _fail("--repeat must be at least 1")
    for f in args.files:
        if not f.exists():
            return _fail(f"no such file: {f}")
    if args.format == "level4":
        return run_journal(args)
    if args.events_jsonl:
        return _fail("--events-jsonl needs --format level4 (a capture has no market actors' events)")
    if not args.venue:
        return _fail("--venue is needed for cryptofeed captures")
    paths: list[Path] = []
    for f in args.files:
        paths.append(f)
        if not capture.is_http_file(f) and not capture.is_list_file(f):
            paths.extend(p for p in capture.companions(f) if p not in paths and p not in args.files)
            listed = capture.list_file(f)  # the venue's instrument list places the symbols
            if listed is not None and listed not in paths and listed not in args.files:
                paths.append(listed)
    try:
        # The venue's API is the one whose endpoint the session spoke to (Binance's futures,
        # Kraken's spot v1 on ws.kraken.com beside v2 on ws.kraken.com/v2, ...).
        scheme = scheme_for_url(args.venue, capture.url_of(paths))
    except UnknownVenue as exc:
        return _fail(str(exc))
    except capture.CaptureError as exc:
        return _fail(str(exc))
    try:
        replays, summary, session = replay_session(scheme, paths, repeat=args.repeat)
    except capture.CaptureError as exc:
        return _fail(str(exc))
    for unplaced in session.unplaced:
        # One market the session cannot place is left out; the others replay.
        print(f"level4 replay: {scheme.name} market {unplaced.symbol} left out: {unplaced.reason}", file=sys.stderr)
    for rp in replays:
        for symbol, prices in rp.ticks.off.items():
            # Reported, never rounded: the book keeps the venue's prices.
            shown = ", ".join(prices[:5]) + (", ..." if len(prices) > 5 else "")
            tick = rp.ticks.tick(symbol)
            said = f"{len(prices)} prices off its listed tick {tick}: {shown}"
            print(f"level4 replay: {scheme.name} market {symbol}: {said}", file=sys.stderr)
    books = books_by_tag(scheme.name, replays)
    if args.books_json:
        args.books_json.write_bytes(orjson.dumps(books, option=orjson.OPT_INDENT_2))
    sys.stdout.write(summary_line(summary, books))
    if summary.frames and summary.malformed * 2 > summary.frames:
        return _fail(foreign_dialect(scheme, summary, capture.host_of(paths)))
    return 0


def foreign_dialect(scheme: Scheme, summary: Summary, host: str) -> str:
    """Why a session most of whose frames the scheme could not read is refused, and
    which venue's API (by the host the session spoke to) would read it."""
    api = f" {scheme.api}" if scheme.api else ""
    said = f"{summary.malformed} of {summary.frames} frames are not in {scheme.name}{api}'s dialect"
    for name in names():
        for other in schemes_of(name):
            hosts = {urlsplit(u).hostname for u in (other.ws_url, other.rest_url) if u}
            if host and host in hosts and other is not scheme:
                other_api = f" {other.api}" if other.api else ""
                return f"{said}: the session spoke to {host}, which is {name}{other_api}; try --venue {name}"
    return f"{said} (the session spoke to {host or 'an unrecorded host'}): is --venue right?"


def run_journal(args: argparse.Namespace) -> int:
    events = args.events_jsonl.open("wb") if args.events_jsonl else None
    total = Summary()
    result = JournalReplay()
    try:
        for n in range(args.repeat):
            # Events of the last pass only: each pass starts from a fresh state and repeats them.
            last = n == args.repeat - 1
            sink = events.write if events is not None and last else None
            on_event = None if sink is None else (lambda ev, w=sink: w(orjson.dumps(ev) + b"\n"))
            result = replay_journal(args.files, on_event)
            total.frames += result.summary.frames
            total.seconds += result.summary.seconds
    except (JournalError, UnknownVenue) as exc:
        return _fail(str(exc))
    finally:
        if events is not None:
            events.close()
    if not result.markets:
        return _fail("no journal files (*.l4j) in " + ", ".join(str(f) for f in args.files))
    for report in result.damaged():
        print(f"level4 replay: {report.describe()}", file=sys.stderr)
    books = result.books()
    if args.books_json:
        args.books_json.write_bytes(orjson.dumps(books, option=orjson.OPT_INDENT_2))
    summary = result.summary
    summary.frames, summary.seconds = total.frames, total.seconds
    sys.stdout.write(summary_line(summary, books))
    return 0
