"""Run level4's benchmarks and print their tables (org-mode, as in README.org).

    .venv/bin/python -m benchmarks                 every part
    .venv/bin/python -m benchmarks hot live        some of them (hot, live, scale, export, runtime, failover, bus)
    .venv/bin/python -m benchmarks --quick         shorter runs, for a first look
    .venv/bin/python -m benchmarks scale --counts 5000    the scale part at some market counts only

The first run installs cryptofeed 2.4.1 into benchmarks/.cryptofeed-venv.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from level4 import compiled, logs

PARTS = ("hot", "live", "scale", "soak", "export", "limits", "runtime", "failover", "bus")


def machine() -> str:
    model = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average at start {load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="level4's benchmarks")
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"some of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--captures", type=Path, default=Path(os.environ.get("LEVEL4_CAPTURES", "../shared/captures")))
    parser.add_argument("--quick", action="store_true", help="fewer repeats and shorter steps")
    parser.add_argument("--no-cryptofeed", action="store_true", help="skip cryptofeed in the hot-path part")
    parser.add_argument("--markets", type=int, default=4, help="markets sharing the live part's rate")
    parser.add_argument(
        "--counts", type=lambda text: [int(n) for n in text.split(",")], help="scale part: market counts, e.g. 5000"
    )
    parser.add_argument("--soak-seconds", type=float, default=60.0, help="seconds of cuts per disconnect rate")
    args = parser.parse_args(argv)
    parts = args.parts or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}")
    logs.configure(os.environ.get("LEVEL4_LOG_LEVEL", "WARNING"))

    print(f"machine: {machine()}")
    print(f"build: {compiled.describe()} (level4.compiled; `pip install .` compiles, `pip install -e .` does not)")
    print(f"command: {' '.join([Path(sys.executable).name, '-m', 'benchmarks', *(argv or sys.argv[1:])])}")
    if "hot" in parts:
        from benchmarks import hotpath

        if not args.captures.is_dir():
            print(f"\n* hot path: skipped, no captures at {args.captures} (set LEVEL4_CAPTURES)")
        else:
            started = time.monotonic()
            results = hotpath.run(
                args.captures, repeats=1 if args.quick else 3, rounds=3, with_cryptofeed=not args.no_cryptofeed
            )
            print("\n* hot path: recorded sessions, frames per second (best of the repeats)\n")
            print(hotpath.table(results).org())
            for note in hotpath.notes(results):
                print(f"- {note}")
            print(f"({time.monotonic() - started:.0f}s)")
    if "live" in parts:
        from benchmarks import live

        started = time.monotonic()
        steps = live.run(markets=args.markets, seconds=2.0 if args.quick else 5.0)
        print(f"\n* live pipeline: {args.markets} Coinbase markets over loopback websockets, consumed from the hub\n")
        print(live.table(steps).org())
        print(f"- highest sustained rate: {live.highest_sustained(steps) or 'none'} frames/s")
        print(f"({time.monotonic() - started:.0f}s)")
    if "scale" in parts:
        from benchmarks import scale

        started = time.monotonic()
        rows = scale.run(args.counts, quiet_seconds=5.0 if args.quick else 10.0)
        print("\n* scale: quiet simulated markets in one process\n")
        print(scale.table(rows).org())
        print(f"({time.monotonic() - started:.0f}s)")
    if "export" in parts:
        from benchmarks import export_speed

        started = time.monotonic()
        rows = export_speed.run(quick=args.quick)
        print("\n* export: `level4 export` over a synthetic Coinbase journal (one market)\n")
        print(export_speed.table(rows).org())
        print("\nSize of each dataset, the largest journal:\n")
        print(export_speed.sizes_table(rows[-1]).org())
        print(f"({time.monotonic() - started:.0f}s)")
    if "soak" in parts:
        from benchmarks import soak

        started = time.monotonic()
        seconds = min(args.soak_seconds, 20.0) if args.quick else args.soak_seconds
        uptimes = soak.uptime(seconds=seconds)
        print(
            f"\n* soak: time synchronised while venues cut connections ({seconds:g}s per rate; one market per venue,"
            f" {len(soak.UPTIME_VENUES)} venues side by side, real reconnect clocks)\n"
        )
        print(soak.uptime_table(uptimes).org())
        print(f"({time.monotonic() - started:.0f}s)")
    if "limits" in parts:
        from benchmarks import venue_pacing

        started = time.monotonic()
        table, (send_us, rest_us) = venue_pacing.run(turns=20_000 if args.quick else 100_000)
        print("\n* venue limits: 500 markets of one venue started at once, one connection each\n")
        print(table.org())
        print(f"- limiter cost when nothing waits: {send_us:.1f} us a frame, {rest_us:.1f} us a REST call")
        print(f"({time.monotonic() - started:.0f}s)")
    if "runtime" in parts:
        from benchmarks import runtime

        started = time.monotonic()
        costs = runtime.hops(2_000 if args.quick else 10_000)
        runtime_rows = runtime.run(seconds=5.0 if args.quick else 10.0)
        print("\n* runtime: a thread per actor against the scheduler pool, same run\n")
        print(runtime.hop_table(costs).org())
        print()
        print(runtime.table(runtime_rows).org())
        print(f"({time.monotonic() - started:.0f}s)")
    if "failover" in parts:
        from benchmarks import failover

        started = time.monotonic()
        result = failover.run(kills=3 if args.quick else 10)
        print("\n* failover: three nodes, six markets; kill -9 of an owner until its markets are live elsewhere\n")
        print(failover.failover_table(result).org())
        print("\n* cluster mode's cost per node\n")
        print(failover.cost_table(result).org())
        print(f"({time.monotonic() - started:.0f}s)")
    if "bus" in parts:
        from benchmarks import cluster_bus

        started = time.monotonic()
        seconds = 3.0 if args.quick else 10.0
        bus_table = cluster_bus.run(100_000 if args.quick else 300_000, [10_000.0, 60_000.0], seconds)
        print("\n* cluster bus: two nodes (two processes) on the real NATS JetStream, node a's markets copied on b\n")
        print(bus_table.org())
        print(f"({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
