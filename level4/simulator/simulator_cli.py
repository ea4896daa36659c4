"""`level4 simulate`: a local venue speaking one dialect."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from level4.simulator.faults import FAULTS, parse
from level4.simulator.server import VenueSimulator
from translations.protocol import MarketType


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="serve a simulated venue on 127.0.0.1")
    p.add_argument("--venue", required=True, help="dialect, e.g. coinbase")
    p.add_argument("--port", type=int, default=0, help="port (0: any free port, printed on start)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--symbols", default="BTC-USD", help="comma-separated BASE-QUOTE pairs")
    p.add_argument("--market-type", choices=[t.value for t in MarketType], help="default: the venue's first")
    p.add_argument("--rate", type=float, default=50.0, help="order-flow steps per second")
    p.add_argument("--seed", type=int, default=1, help="order flow and faults")
    p.add_argument(
        "--faults",
        default="",
        metavar="NAME=RATE[,...]",
        help=f"inject faults at these rates (0..1; per book frame, connection or REST request): {', '.join(FAULTS)};"
        " change them while running with GET /control/faults?NAME=RATE",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    try:
        sim = VenueSimulator(
            args.venue,
            symbols,
            host=args.host,
            port=args.port,
            rate=args.rate,
            seed=args.seed,
            market_type=MarketType(args.market_type) if args.market_type else None,
            faults=parse(args.faults),
        )
    except (KeyError, ValueError) as exc:
        print(f"level4 simulate: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        try:
            await sim.start()
        except OSError as exc:  # the port is taken, or the address not this machine's: no traceback for that
            reason = str(exc).rsplit(": ", 1)[-1]  # asyncio's message ends with the system's reason
            where = f"{args.host}:{args.port}"
            print(f"level4 simulate: cannot listen on {where}: {reason}; choose another --port", file=sys.stderr)
            return 1
        print(f"simulating {sim.venue} on ws://{sim.host}:{sim.port}/ markets {', '.join(sim.markets)}", flush=True)
        if rates := sim.faults.describe()["rates"]:
            print(f"faults {rates}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await sim.stop()
        return 0

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main())
    return 0
