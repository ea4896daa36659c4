"""Soak: N markets over M minutes under random faults, then the books must
equal the venues' reference books, no market tree may have crashed, and the
service's memory must stay flat.

    .venv/bin/python -m benchmarks.soak --markets 20 --minutes 5

Also the share of time books are synchronised while their venues keep
cutting connections (`uptime`, the `soak` part of `python -m benchmarks`),
with the service's real clocks: what the reconnect backoff costs.

Each venue is a `level4 simulate` process of its own (so the service's RSS is
the service's), its markets spread over the thirteen venues. Every phase each
venue gets a new random mix of the faults its clients can notice; at each
checkpoint the faults stop, every market must be live again, the venues
freeze and every served book is compared with its reference, then the
faults resume. The service runs in this process with the feeds' clocks
shortened (stale-feed watchdog, keep-alive pings, reconnect cap, REST
timeout), so that a stall costs seconds rather than minutes; the values are
printed. Not part of the test suite: it is bounded by --minutes.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

import level4.net.venue_connection
import translations
from benchmarks import bench_harness
from benchmarks.report import Table
from level4 import logs
from level4.market.status_board import Status
from level4.net import venue_limiter
from level4.simulator.faults import FAULTS, supported
from tests.resilience.venues import VENUES, same_book

BASES = ("BTC", "ETH", "SOL", "XRP", "LTC", "ADA")
PER_CONNECTION = ("upgrade", "slowsub", "rest")
COSTLY = ("disconnect", "stall")  # each takes a connection down


@dataclass
class Venue:
    name: str
    pairs: list[str]
    proc: subprocess.Popen[str]
    url: str
    http: httpx.Client
    market_ids: dict[str, int] = field(default_factory=dict)  # pair -> market id

    def faults(self, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get("/control/faults", params=params).json()
        return answer

    def close(self) -> None:
        self.http.close()
        bench_harness.end_process(self.proc)


def start_venue(name: str, pairs: list[str], rate: float, seed: int) -> Venue:
    kind = VENUES[name][2]
    cmd = [sys.executable, "-m", "level4", "simulate", "--venue", name, "--symbols", ",".join(pairs)]
    cmd += ["--market-type", kind, "--rate", str(rate), "--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while line and not line.startswith("simulating"):  # its log lines come first
        line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError(f"{name} simulator did not start")
    url = line.split()[3]
    # A new connection per control call: the simulator closes its HTTP connections after answering,
    # and a kept one may be reused just before its close arrives.
    http = httpx.Client(
        base_url=url.replace("ws://", "http://").rstrip("/"),
        timeout=10,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    return Venue(name, pairs, proc, url, http)


def shorten_clocks(stale_cap: float) -> str:
    for name in translations.names():
        scheme = translations.scheme_for(name)
        scheme.stale_after = min(scheme.stale_after, stale_cap)  # type: ignore[misc]
        if scheme.ping_interval:
            scheme.ping_interval = min(scheme.ping_interval, scheme.stale_after / 4)  # type: ignore[misc]
    level4.net.venue_connection.RECONNECT_CAP = stale_cap
    level4.net.venue_connection.REST_TIMEOUT = stale_cap / 2
    return (
        f"stale-feed watchdog at most {stale_cap:g}s, reconnect backoff capped at {stale_cap:g}s, "
        f"REST timeout {stale_cap / 2:g}s"
    )


def random_faults(rng: random.Random, venue: str) -> dict[str, float]:
    """A random mix: each fault the venue can have with even odds, at a rate
    drawn log-uniformly from its range (per frame; per connection or request)."""
    rates: dict[str, float] = {}
    for fault in FAULTS:
        if fault not in supported(venue) or rng.random() < 0.5:
            continue
        low, high = (0.1, 0.4) if fault in PER_CONNECTION else (0.0002, 0.001) if fault in COSTLY else (0.0005, 0.01)
        rates[fault] = round(math.exp(rng.uniform(math.log(low), math.log(high))), 5)
    return rates


class Recoveries:
    """Counts books synchronised again after they had been lost (hub status events)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lost: set[int] = set()
        self.count = 0

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("channel") != "status":
            return
        with self.lock:
            market = int(event.get("market_id", 0))
            if event.get("status") == "desynchronised":
                self.lost.add(market)
            elif event.get("status") == "synchronised" and market in self.lost:
                self.lost.discard(market)
                self.count += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--phase", type=float, default=20.0, help="seconds between new fault mixes")
    parser.add_argument("--checkpoint", type=float, default=60.0, help="seconds between book comparisons")
    parser.add_argument("--rate", type=float, default=50.0, help="order-flow steps per second per venue")
    parser.add_argument("--stale-cap", type=float, default=5.0, help="shortest real stale_after kept, in seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logs.configure("CRITICAL")  # garbage frames are logged by the thousand; the counters tell
    rng = random.Random(args.seed)
    clocks = shorten_clocks(args.stale_cap)

    names = sorted(VENUES)
    pairs: dict[str, list[str]] = {}
    for n in range(args.markets):
        venue = names[n % len(names)]
        quote = VENUES[venue][1]
        pairs.setdefault(venue, []).append(f"{BASES[len(pairs.get(venue, [])) % len(BASES)]}-{quote}")
    venues: list[Venue] = []
    recoveries = Recoveries()
    try:
        for i, (name, venue_pairs) in enumerate(sorted(pairs.items())):
            venues.append(start_venue(name, venue_pairs, args.rate, args.seed + i))
        with bench_harness.service() as (service, api):
            service.hub.subscribe(recoveries)
            for symbol in {*BASES, *(VENUES[v.name][1] for v in venues)}:
                api.post("/symbols", json={"symbol": symbol})
            for v in venues:
                kind = VENUES[v.name][2]
                http_url = str(v.http.base_url)
                api.post("/exchanges", json={"name": v.name, "ws_url": v.url, "rest_url": http_url}).raise_for_status()
                for pair in v.pairs:
                    base, quote = pair.split("-")
                    body = {"exchange": v.name, "base_symbol": base, "quote_symbol": quote, "market_type": kind}
                    r = api.post("/markets", json=body)
                    r.raise_for_status()
                    v.market_ids[pair] = int(r.json()["id"])
            ids = [i for v in venues for i in v.market_ids.values()]
            bench_harness.enable(api, ids)
            bench_harness.wait_until(
                lambda: set(bench_harness.statuses(api).values()) == {"live"}, 60, "every market live"
            )
            rss_start = bench_harness.rss_bytes()
            rss_max = rss_start
            rss_half = 0  # bounded buffers (trade tapes, candles) fill first: the second half shows a leak
            print(f"{len(ids)} markets on {len(venues)} venues live; {clocks}", flush=True)

            checkpoints: list[tuple[int, int]] = []
            started = time.monotonic()
            end = started + args.minutes * 60
            next_check = started + args.checkpoint
            while True:
                for v in venues:
                    v.faults(clear=1, **random_faults(rng, v.name))
                phase_end = min(time.monotonic() + args.phase, end, next_check)
                while time.monotonic() < phase_end:
                    time.sleep(min(1.0, max(0.0, phase_end - time.monotonic())))
                    rss_max = max(rss_max, bench_harness.rss_bytes())
                    if not rss_half and time.monotonic() >= started + (end - started) / 2:
                        rss_half = bench_harness.rss_bytes()
                if time.monotonic() >= next_check or time.monotonic() >= end:
                    equal = checkpoint(venues, api)
                    checkpoints.append((equal, len(ids)))
                    elapsed = time.monotonic() - started
                    rss = bench_harness.rss_bytes() / 2**20
                    print(f"{elapsed:6.0f}s checkpoint: {equal}/{len(ids)} books equal to reference, RSS {rss:.0f} MiB")
                    next_check = time.monotonic() + args.checkpoint
                if time.monotonic() >= end:
                    break
            rss_end = bench_harness.rss_bytes()
            rss_max = max(rss_max, rss_end)

            injected: Counter[str] = Counter()
            for v in venues:
                injected.update(v.faults()["injected"])
            states = [service.board.get(i) for i in ids]
            crashed = sum(1 for s in states if s.restarts or str(s.status) == "failed")
            final_equal, total = checkpoints[-1]
            table = Table(["figure", "value"])
            table.add("markets / venues", f"{total} / {len(venues)}")
            table.add("minutes under faults", f"{args.minutes:g}")
            kinds = ", ".join(f"{k} {injected[k]}" for k in FAULTS)
            table.add("faults injected", f"{sum(injected.values())} ({kinds})")
            table.add("books synchronised again after a loss", recoveries.count)
            table.add("resyncs / reconnects", f"{sum(s.resyncs for s in states)} / {sum(s.reconnects for s in states)}")
            table.add("malformed frames counted", sum(s.malformed for s in states))
            clean = sum(e == t for e, t in checkpoints)
            table.add("checkpoints with every book equal", f"{clean} / {len(checkpoints)}")
            table.add("books equal to reference at the end", f"{final_equal} / {total}")
            table.add("crashed market trees", crashed)
            mib = [f"{b / 2**20:.0f}" for b in (rss_start, rss_half, rss_end, rss_max)]
            table.add("RSS start / half time / end / max (MiB)", " / ".join(mib))
            print(table.org(), flush=True)
            return 0 if crashed == 0 and final_equal == total else 1
    finally:
        for v in venues:
            v.close()


# One venue of each integrity family (REST snapshot, sequence, checksum, none) and a second checksum one.
UPTIME_VENUES = ("BINANCE", "BYBIT", "COINBASE", "KRAKEN", "OKX")
DISCONNECT_RATES = (0.01, 0.05)  # per book frame, as `level4 simulate --faults disconnect=...`
UPTIME_GOALS = {0.01: 0.95, 0.05: 0.80}
SAMPLE = 0.02  # seconds between looks at every market's status


@dataclass
class Uptime:
    venue: str
    disconnect: float
    share: float  # of the time, the market was live (its book synchronised)
    cuts: int  # disconnects the venue injected
    reconnects: int


def uptime(
    seconds: float = 60.0,
    rates: tuple[float, ...] = DISCONNECT_RATES,
    names: tuple[str, ...] = UPTIME_VENUES,
    rate: float = 50.0,
    seed: int = 1,
) -> list[Uptime]:
    """One market on each venue (a `level4 simulate` process each, at its
    default order-flow rate), side by side in one service with its real
    clocks; for each disconnect rate in turn, from a fresh start (new venues,
    a new service, the venue limiters' windows empty), `seconds` of cuts while
    every market's status is sampled. A fresh start per rate, because a
    venue's connect budget is counted over minutes (Kraken: about 150 per 10
    minutes) and one rate's reconnects would otherwise be charged to the next."""
    rows: list[Uptime] = []
    for disconnect in rates:
        venue_limiter.reset()
        rows += _uptime_at(disconnect, seconds, names, rate, seed)
    return rows


def _uptime_at(disconnect: float, seconds: float, names: tuple[str, ...], rate: float, seed: int) -> list[Uptime]:
    venues: list[Venue] = []
    rows: list[Uptime] = []
    try:
        for i, name in enumerate(names):
            venues.append(start_venue(name, [f"{BASES[0]}-{VENUES[name][1]}"], rate, seed + i))
        with bench_harness.service() as (service, api):
            for symbol in {BASES[0], *(VENUES[v.name][1] for v in venues)}:
                api.post("/symbols", json={"symbol": symbol})
            for v in venues:
                kind = VENUES[v.name][2]
                api.post(
                    "/exchanges", json={"name": v.name, "ws_url": v.url, "rest_url": str(v.http.base_url)}
                ).raise_for_status()
                base, quote = v.pairs[0].split("-")
                body = {"exchange": v.name, "base_symbol": base, "quote_symbol": quote, "market_type": kind}
                r = api.post("/markets", json=body)
                r.raise_for_status()
                v.market_ids[v.pairs[0]] = int(r.json()["id"])
            ids = {v.name: v.market_ids[v.pairs[0]] for v in venues}
            bench_harness.enable(api, list(ids.values()))

            def all_live() -> bool:
                return all(service.board.get(i).status is Status.LIVE for i in ids.values())

            bench_harness.wait_until(all_live, 60, "every market live")
            cuts0 = {v.name: int(v.faults()["injected"].get("disconnect", 0)) for v in venues}
            reconnects0 = {name: service.board.get(i).reconnects for name, i in ids.items()}
            for v in venues:
                v.faults(clear=1, disconnect=disconnect)
            live: Counter[str] = Counter()
            samples = 0
            due = time.monotonic()
            end = due + seconds
            while due < end:
                for name, market_id in ids.items():
                    if service.board.get(market_id).status is Status.LIVE:
                        live[name] += 1
                samples += 1
                due += SAMPLE
                time.sleep(max(0.0, due - time.monotonic()))
            for v in venues:
                injected = int(v.faults(clear=1)["injected"].get("disconnect", 0)) - cuts0[v.name]
                reconnects = service.board.get(ids[v.name]).reconnects - reconnects0[v.name]
                rows.append(Uptime(v.name, disconnect, live[v.name] / samples, injected, reconnects))
            bench_harness.wait_until(all_live, 60, "every market live again")
    finally:
        for v in venues:
            v.close()
    return rows


def uptime_table(rows: list[Uptime]) -> Table:
    table = Table(["disconnect rate", "venue", "cuts", "reconnects", "time synchronised"])
    for disconnect in sorted({r.disconnect for r in rows}):
        these = [r for r in rows if r.disconnect == disconnect]
        for r in these:
            table.add(f"{disconnect:g}", r.venue, r.cuts, r.reconnects, f"{r.share:.1%}")
        mean = sum(r.share for r in these) / len(these)
        goal = UPTIME_GOALS.get(disconnect)
        verdict = "" if goal is None else f" (goal >= {goal:.0%}: {'met' if mean >= goal else 'not met'})"
        table.add(
            f"{disconnect:g}",
            "all",
            sum(r.cuts for r in these),
            sum(r.reconnects for r in these),
            f"{mean:.1%}{verdict}",
        )
    return table


def checkpoint(venues: list[Venue], api: httpx.Client) -> int:
    """Faults off; once every faulted socket is gone and every market live,
    freeze the venues and count the books equal to their reference."""
    for v in venues:
        v.faults(clear=1)

    def settled() -> bool:
        return all(f["stalled"] + f["cut"] == 0 for f in (v.faults() for v in venues))

    bench_harness.wait_until(settled, 60, "faulted sockets closed")
    bench_harness.wait_until(lambda: set(bench_harness.statuses(api).values()) == {"live"}, 60, "every market live")
    for v in venues:
        v.http.get("/control/pause")
    try:
        equal = 0
        for v in venues:
            depth = VENUES[v.name][3]
            for pair, market_id in v.market_ids.items():
                reference = v.http.get("/reference", params={"symbol": pair}).json()
                deadline = time.monotonic() + 10
                while True:
                    if same_book(api.get(f"/markets/{market_id}/book").json(), reference, depth):
                        equal += 1
                        break
                    if time.monotonic() > deadline:
                        print(f"  {v.name} {pair}: not equal to its reference", flush=True)
                        break
                    time.sleep(0.05)
        return equal
    finally:
        for v in venues:
            v.http.get("/control/resume")


if __name__ == "__main__":
    sys.exit(main())
