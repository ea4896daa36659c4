"""`level4 replay`: recorded frames through the real scheme and book code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from level4.replay import capture
from level4.replay.replayer import Replay, replay
from translations import UnknownVenue, scheme_for


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay", help="replay recorded venue sessions with no network")
    p.add_argument("--venue", required=True, help="venue name, e.g. COINBASE")
    p.add_argument("--format", default="cryptofeed", choices=["cryptofeed"], help="capture format")
    p.add_argument("files", nargs="+", type=Path, help="capture files; REST answers (.http.) beside them are found")
    p.add_argument("--books-json", type=Path, help="write every market's final book here")
    p.add_argument("--repeat", type=int, default=1, help="replay the whole capture N times (benchmarking)")
    p.set_defaults(func=run)


def books_by_tag(venue: str, replays: list[Replay]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for rp in replays:
        tags = {i.symbol: i.tag(venue) for i in rp.translator.instruments}
        for symbol, book in rp.keeper.books.items():
            out[tags.get(symbol, f"{venue}:{symbol}")] = {**book.as_dict(), "reason": book.reason}
    return out


def run(args: argparse.Namespace) -> int:
    try:
        scheme = scheme_for(args.venue)
    except UnknownVenue as exc:
        print(f"level4 replay: {exc}", file=sys.stderr)
        return 2
    if args.repeat < 1:
        print("level4 replay: --repeat must be at least 1", file=sys.stderr)
        return 2
    paths: list[Path] = []
    for f in args.files:
        if not f.exists():
            print(f"level4 replay: no such file: {f}", file=sys.stderr)
            return 2
        paths.append(f)
        if not capture.is_http_file(f):
            paths.extend(p for p in capture.companions(f) if p not in paths and p not in args.files)
    try:
        replays, summary = replay(scheme, paths, repeat=args.repeat)
    except capture.CaptureError as exc:
        print(f"level4 replay: {exc}", file=sys.stderr)
        return 2
    if args.books_json:
        args.books_json.write_bytes(orjson.dumps(books_by_tag(scheme.name, replays), option=orjson.OPT_INDENT_2))
    line = {
        "frames": summary.frames,
        "seconds": round(summary.seconds, 6),
        "markets": summary.markets,
        "trades": summary.trades,
        "resyncs": summary.resyncs,
        "malformed": summary.malformed,
        "checksums_verified": summary.checksums_verified,
        "checksum_failures": summary.checksum_failures,
        "unsynchronised": sorted(t for t, b in books_by_tag(scheme.name, replays).items() if not b["synchronised"]),
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0
