"""Faults a simulated venue injects: what bad venues and bad networks do to
a feed, at seeded random rates that can be changed while it runs.

A rate is a probability, counted per book frame sent to a client (drop,
checksum, duplicate, reorder, garbage, disconnect, stall), per websocket
connection (upgrade, slowsub) or per REST request (rest).

Only faults a correct client can notice are offered for a dialect: a frame
lost from a feed without sequence numbers or checksums is invisible to
anyone, so `drop` is refused for such a venue rather than leaving books
silently wrong. Which venue has which integrity mechanism is `FAMILIES`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

# Every fault, in the order `level4 simulate --help` lists them.
FAULTS = (
    "drop",  # a book frame never sent: a sequence gap
    "checksum",  # a book frame's checksum corrupted
    "disconnect",  # the connection cut mid-stream (close frame or plain abort)
    "stall",  # the connection stays open and goes silent for good
    "garbage",  # a frame that is not JSON, has a shape no venue uses, or is huge
    "upgrade",  # the websocket upgrade answered with an HTTP error
    "rest",  # a REST snapshot request answered with an error, or not for a long time
    "duplicate",  # a book frame sent twice
    "reorder",  # a book frame sent after the one that follows it
    "slowsub",  # the answers to a new connection's first requests held back
)

# Venues grouped by how a client can tell its book went wrong.
# A venue's other APIs are named VENUE/api (Kraken's futures API numbers its messages,
# where its spot APIs, v2 first and v1 for replays, checksum books).
FAMILIES: dict[str, tuple[str, ...]] = {
    "sequence": ("BYBIT", "DERIBIT", "HITBTC", "POLONIEX", "KRAKEN/futures"),  # numbered diffs chained to the last
    "checksum": ("KRAKEN", "KRAKEN/v1", "BITFINEX", "OKX"),  # checksums of the book after changes
    "rest": ("BINANCE", "BITSTAMP", "BINANCE/usdm", "BINANCE/coinm"),  # diffs joined to REST snapshots
    "none": ("COINBASE", "GEMINI", "BITFLYER", "BITMEX"),  # plain level changes
}

_EVERYWHERE = frozenset({"disconnect", "stall", "garbage", "upgrade", "duplicate", "slowsub"})
# Kraken checksums only the best ten of the levels it shows: a change lost
# further down would go unnoticed until it surfaced, so it gets no drop.
_NUMBERED = frozenset(FAMILIES["sequence"] + ("BITFINEX", "OKX", "BINANCE", "BINANCE/usdm", "BINANCE/coinm"))
_ORDERED = _NUMBERED | {"BITSTAMP"}  # microtimestamps show order, though not a gap
_TOP_TEN = frozenset({"KRAKEN", "KRAKEN/v1"})  # Kraken spot, both APIs


def _key(venue: str) -> str:
    name, sep, api = venue.partition("/")
    return f"{name.upper()}{sep}{api}"


def family_of(venue: str) -> str:
    for family, venues in FAMILIES.items():
        if _key(venue) in venues:
            return family
    raise KeyError(f"no fault family for {venue!r}")


def supported(venue: str) -> frozenset[str]:
    """The faults a client of this venue (or VENUE/api) can notice."""
    venue = _key(venue)
    out = set(_EVERYWHERE)
    if venue in _NUMBERED:
        out.add("drop")
    if venue in _ORDERED:
        out.add("reorder")
    if venue in FAMILIES["checksum"]:
        out.add("checksum")
    if venue in FAMILIES["rest"]:
        out.add("rest")
    return frozenset(out)


def parse(spec: str) -> dict[str, float]:
    """`drop=0.01,stall=0.001` -> {"drop": 0.01, "stall": 0.001}."""
    rates: dict[str, float] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip().lower()
        if not sep:
            raise ValueError(f"faults are NAME=RATE, got {item!r}")
        try:
            rate = float(raw)
        except ValueError:
            raise ValueError(f"the rate of {name} must be a number, got {raw.strip()!r}") from None
        rates[name] = rate
    return rates


class Signal(Enum):
    """Orders to a client's writer, queued in order with its frames."""

    DISCONNECT = "disconnect"
    STALL = "stall"


@dataclass(slots=True)
class Link:
    """One client connection's fault state."""

    held: list[str] = field(default_factory=list)  # a book frame to send after the next one
    stalled: bool = False
    cut: bool = False  # a disconnect is on its way: send nothing more


Corrupter = Callable[[str], str | None]

SLOW_SUBSCRIBE = 3.0  # seconds a slowsub connection's first answers are held
REST_HANG = 30.0  # seconds a hung REST request waits before it is answered
UPGRADE_STATUSES = (429, 500, 502, 503)  # what a struggling venue answers an upgrade with
REST_STATUSES = (429, 500, 503)
HUGE = 1 << 20  # bytes of a huge garbage frame


class Faults:
    def __init__(
        self,
        venue: str,
        rates: Mapping[str, float] | None = None,
        seed: int = 1,
        corrupt_checksum: Corrupter | None = None,
    ) -> None:
        self.venue = _key(venue)
        self.supported = supported(self.venue)
        self.rates: dict[str, float] = dict.fromkeys(FAULTS, 0.0)
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._corrupt = corrupt_checksum
        self._frame_faults = False
        self.set(rates or {})

    # --- rates -------------------------------------------------------------------------

    def set(self, rates: Mapping[str, float]) -> None:
        """Change some rates (all checked before any changes)."""
        for name, rate in rates.items():
            if name not in self.rates:
                raise ValueError(f"unknown fault {name!r}; faults are {', '.join(FAULTS)}")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"the rate of {name} must be from 0 to 1, got {rate:g}")
            if rate and name not in self.supported:
                raise ValueError(f"{self.venue} cannot have {name} faults: {why_not(self.venue, name)}")
        self.rates.update(rates)
        per_frame = ("drop", "checksum", "disconnect", "stall", "garbage", "duplicate", "reorder")
        self._frame_faults = any(self.rates[n] for n in per_frame)

    def clear(self) -> None:
        self.set(dict.fromkeys(FAULTS, 0.0))

    def describe(self) -> dict[str, object]:
        return {
            "venue": self.venue,
            "rates": {n: r for n, r in self.rates.items() if r},
            "injected": dict(sorted(self.injected.items())),
            "supported": sorted(self.supported, key=FAULTS.index),
        }

    def _roll(self, name: str) -> bool:
        rate = self.rates[name]
        if rate and self._rng.random() < rate:
            self.injected[name] += 1
            return True
        return False

    # --- per book frame ----------------------------------------------------------------

    def book_frames(self, link: Link, frames: list[str]) -> tuple[list[str], Signal | None]:
        """What goes out instead of these book frames, and whether the
        connection is cut or stalled after them."""
        if link.cut or link.stalled:
            return [], None
        if not self._frame_faults and not link.held:
            return frames, None
        out: list[str] = []
        for frame in frames:
            if self._roll("disconnect"):
                link.cut = True
                return out, Signal.DISCONNECT
            if self._roll("stall"):
                link.stalled = True
                return out, Signal.STALL
            if self._roll("garbage"):
                out.append(self.garbage())
            if self._roll("drop"):
                continue
            if self.rates["checksum"] and self._rng.random() < self.rates["checksum"] and self._corrupt is not None:
                corrupted = self._corrupt(frame)
                if corrupted is not None:  # frames without a checksum are left as they are
                    self.injected["checksum"] += 1
                    frame = corrupted
            if not link.held and self._roll("reorder"):
                link.held.append(frame)
                continue
            out.append(frame)
            if self._roll("duplicate"):
                out.append(frame)
            if link.held:
                out.extend(link.held)
                link.held.clear()
        return out, None

    def release(self, link: Link) -> list[str]:
        """A held frame is in flight, not lost: it goes out when the flow
        pauses or the faults change."""
        held, link.held = link.held, []
        return [] if link.cut or link.stalled else held

    def garbage(self) -> str:
        kind = self._rng.randrange(3)
        if kind == 0:
            return "\x00\x7fnot json {{{ " + "".join(self._rng.choice("{}[]:,\"'") for _ in range(20))
        if kind == 1:
            return self._rng.choice(
                ['{"unexpected":true}', "[]", "[null,{}]", "42", "null", '"text"', '{"event":[1,2,3]}', "{}"]
            )
        return '{"garbage":"' + "x" * HUGE + '"}'

    def abort_next(self) -> bool:
        """Cut a connection without a close frame (else with one)."""
        return self._rng.random() < 0.5

    # --- per connection and per request ------------------------------------------------

    def refuse_upgrade(self) -> int | None:
        """The HTTP status to refuse this websocket upgrade with, or None."""
        return self._rng.choice(UPGRADE_STATUSES) if self._roll("upgrade") else None

    def subscribe_delay(self) -> float:
        """Seconds to hold a new connection's first answers (0: none)."""
        return SLOW_SUBSCRIBE if self._roll("slowsub") else 0.0

    def rest_fault(self) -> int | float | None:
        """An HTTP status to answer this REST request with, seconds to wait
        before answering it (a float), or None."""
        if not self._roll("rest"):
            return None
        choice = self._rng.randrange(len(REST_STATUSES) + 1)
        return REST_HANG if choice == len(REST_STATUSES) else REST_STATUSES[choice]


def why_not(venue: str, fault: str) -> str:
    if fault == "checksum":
        return "its frames carry no checksums"
    if fault == "rest":
        return "it takes no REST snapshots"
    if fault == "drop" and _key(venue) in _TOP_TEN:
        return "its checksums cover only the ten best levels, so a loss deeper down would go unnoticed"
    if fault == "reorder" and _key(venue) in _TOP_TEN:
        return "its checksums cover only the ten best levels, so a swap deeper down would go unnoticed"
    if fault == "drop":
        return "nothing in its frames shows a gap, so no client could notice the loss"
    if fault == "reorder":
        return "nothing in its frames shows their order, so no client could notice"
    return "not simulated"
