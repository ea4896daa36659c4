"""`level4 export`: research datasets in Parquet from a journal.

pyarrow is an optional extra (`level4[research]`): the service never needs
it, so it is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import orjson

from level4.export.dataset_columns import DATASETS

INSTALL = "pip install 'level4[research]'"
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_interval(text: str) -> int:
    """`1s`, `250ms`, `5m`, `1h`, or seconds, into nanoseconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h)?\s*", text)
    if m is None:
        raise argparse.ArgumentTypeError(f"not an interval: {text!r} (e.g. 1s, 250ms, 5m)")
    ns = round(float(m.group(1)) * _UNITS[m.group(2) or "s"])
    if ns < 1_000_000:
        raise argparse.ArgumentTypeError(f"interval {text!r} is below 1ms")
    return ns


def parse_datasets(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"datasets are some of {', '.join(DATASETS)}; not {text!r}")
    return names


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="a journal as Parquet research datasets (needs level4[research])")
    p.add_argument(
        "journals", nargs="+", type=Path, metavar="JOURNAL", help="journal directories, market directories or files"
    )
    p.add_argument("--out", type=Path, required=True, help="directory for the datasets (one subdirectory each)")
    p.add_argument("--depth", type=int, default=25, help="book_snapshots: levels per side (default 25)")
    p.add_argument(
        "--interval", type=parse_interval, default=1_000_000_000, help="book_snapshots: sampling interval (default 1s)"
    )
    p.add_argument(
        "--datasets",
        type=parse_datasets,
        default=DATASETS,
        help=f"comma-separated, some of {','.join(DATASETS)} (default: all)",
    )
    p.add_argument(
        "--scale", type=int, default=18, help="decimal places of prices and sizes: DECIMAL(38, S) (default 18)"
    )
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"level4 export: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return _fail(f"needs pyarrow, which the service does not install: {INSTALL}")
    from level4.export.export_run import export_journal
    from level4.export.progress_bar import ProgressBar
    from level4.journal.format import find_markets

    if args.depth < 1:
        return _fail("--depth must be at least 1")
    if not 0 <= args.scale <= 38:
        return _fail("--scale must be between 0 and 38")
    for path in args.journals:
        if not path.exists():
            return _fail(f"no such file or directory: {path}")
    markets = find_markets(list(args.journals))
    if not markets:
        return _fail("no journal files (*.l4j) in " + ", ".join(str(p) for p in args.journals))
    for name in args.datasets:
        target = args.out / name
        if target.exists() and any(target.iterdir()):
            return _fail(f"{target} is not empty: remove it or choose another --out")
    bar = ProgressBar(sum(p.stat().st_size for m in markets for p in m.files))
    result = export_journal(
        list(args.journals),
        args.out,
        depth=args.depth,
        interval_ns=args.interval,
        scale=args.scale,
        datasets=tuple(args.datasets),
        progress=bar.update,
    )
    bar.close(bar.total, result.events)
    for report in result.damaged():
        print(f"level4 export: {report.describe()}", file=sys.stderr)
    for path in result.vanished:
        print(f"level4 export: {path}: removed before it was read (journal retention)", file=sys.stderr)
    for tag, why in result.failed.items():
        print(f"level4 export: {tag}: not exported: {why}", file=sys.stderr)
    summary = {
        "markets": result.markets,
        "frames": result.frames,
        "events": result.events,
        "seconds": round(result.seconds, 6),
        "rows": result.rows,
        "bytes": result.bytes,
        "failed": sorted(result.failed),
    }
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 1 if result.failed else 0
