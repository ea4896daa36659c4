"""The simulated venue's limits, enforced the way the venue enforces them.

The numbers are the scheme's own (`translations/<venue>.py` `limits`), or
smaller ones a test sets; the server asks this module before it accepts a
websocket upgrade, reads a client's message, answers a subscription and
answers a REST request, and refuses as the venue does (`REFUSALS`):

- too many connection attempts in the window: the upgrade answered HTTP 429
  with Retry-After;
- too many messages in any second on one connection: the venue's error
  frame where it has one, then the connection closed with its close code
  (Binance closes 1008 "Too many requests");
- more streams on one connection than allowed: the connection closed, or
  (Bitfinex) the subscription refused with the venue's error by the dialect;
- REST weight over the budget: HTTP 429 (Bybit: 403 "access too frequent")
  with Retry-After; Binance bans an address that asks again before its
  Retry-After has passed: HTTP 418 with the ban's length, doubling for
  repeat offenders;
- a connection older than the venue's lifetime (Binance: 24 h) is cut.

`describe()` is `GET /control/limits`: the limits, how close clients came
(the peak of each count against its limit) and the refusals. All clients
of the simulator count as one address, as they come from one machine.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession
from translations.venue_limits import VenueLimits

FIRST_BAN = 120.0  # Binance: bans "scale in duration for repeat offenders, from 2 minutes to 3 days"
LONGEST_BAN = 3 * 86400.0

# Session extras by which a dialect that refuses subscriptions itself learns the
# connection's stream cap (None: not enforced) and reports its refusals.
STREAM_CAP = "stream_cap"
STREAMS_REFUSED = "streams_refused"

# An error frame a venue sends before acting on too many messages: (the client's frame) -> text.
ErrorFrame = Callable[[Any], str]


def _request_id(frame: Any) -> Any:
    return frame.get("id") if isinstance(frame, dict) else None


def _kraken_error(frame: Any, message: str) -> str:
    answer: dict[str, Any] = {"event": "error", "errorMessage": message}
    if isinstance(frame, dict) and "reqid" in frame:
        answer["reqid"] = frame["reqid"]
    return orjson.dumps(answer).decode()


def _kraken_v2_error(frame: Any, message: str) -> str:
    # v2 answers a request with its method, success false and the error.
    method = frame.get("method") if isinstance(frame, dict) else None
    answer: dict[str, Any] = {"error": message, "method": method, "success": False}
    if isinstance(frame, dict) and "req_id" in frame:
        answer["req_id"] = frame["req_id"]
    return orjson.dumps(answer).decode()


@dataclass(frozen=True, slots=True)
class Refusals:
    """How one venue refuses a client over its limits."""

    upgrade_status: int = 429
    close_code: int = 1008  # too many messages, or too many streams
    close_reason: str = "Too many requests"
    error_frame: ErrorFrame | None = None  # sent before closing (or instead, when not closing)
    close_on_messages: bool = True
    rest_status: int = 429
    rest_body: dict[str, Any] = field(default_factory=lambda: {"error": "too many requests"})
    bans: bool = False  # a request during a 429's Retry-After earns an HTTP 418 ban


REFUSALS: dict[str, Refusals] = {
    # https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits (429, Retry-After, 418 bans);
    # the websocket close on too many messages: 1008 "Too many requests", as observed by clients
    # (https://nautilustrader.io/docs/rust-api-latest/nautilus_binance/common/consts/static.BINANCE_WS_SUBSCRIPTION_QUOTA.html).
    "BINANCE": Refusals(
        rest_body={
            "code": -1003,
            "msg": "Too much request weight used; please use WebSocket Streams for live updates to avoid polling.",
        },
        bans=True,
    ),
    # https://bybit-exchange.github.io/docs/v5/rate-limit: "403, access too frequent".
    "BYBIT": Refusals(rest_status=403, rest_body={"retCode": 403, "retMsg": "access too frequent"}),
    # https://docs.deribit.com/articles/rate-limits: too_many_requests (10028), and the session ends.
    "DERIBIT": Refusals(
        error_frame=lambda frame: orjson.dumps(
            {"jsonrpc": "2.0", "id": _request_id(frame), "error": {"message": "too_many_requests", "code": 10028}}
        ).decode(),
        close_code=1000,
        close_reason="too_many_requests",
    ),
    # https://docs.kraken.com/api/docs/guides/spot-ratelimits: the request is answered "Exceeded msg rate".
    "KRAKEN": Refusals(
        error_frame=lambda frame: _kraken_v2_error(frame, "Exceeded msg rate"),
        close_on_messages=False,
    ),
    "KRAKEN/v1": Refusals(
        error_frame=lambda frame: _kraken_error(frame, "Exceeded msg rate"),
        close_on_messages=False,
    ),
}


class Window:
    """Weighted events in a sliding window; counts what the venue would see."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.events: deque[tuple[float, float]] = deque()
        self.total = 0.0

    def used(self, now: float) -> float:
        events = self.events
        while events and events[0][0] <= now - self.seconds:
            self.total -= events.popleft()[1]
        return self.total

    def add(self, now: float, weight: float) -> float:
        used = self.used(now) + weight
        self.events.append((now, weight))
        self.total = used
        return used

    def free_at(self, now: float, weight: float, limit: float) -> float:
        """Seconds until `weight` more fits under `limit`."""
        excess = self.used(now) + weight - limit
        for t, w in self.events:
            if excess <= 0:
                break
            excess -= w
            if excess <= 0:
                return max(0.0, t + self.seconds - now)
        return 0.0 if excess <= 0 else self.seconds


@dataclass(slots=True)
class ConnectionCount:
    """One connection's counts, kept on its ClientSession."""

    opened: float
    sends: Window = field(default_factory=lambda: Window(1.0))


@dataclass(slots=True)
class Refuse:
    """What the server does to a client over a limit: frames, then perhaps a close."""

    frames: list[str]
    close: tuple[int, str] | None


class LimitsEnforcer:
    def __init__(self, venue: str, limits: VenueLimits, enabled: bool = True, api: str = "") -> None:
        self.venue = venue.upper()
        # A venue's other APIs may refuse in their own words (VENUE/api), else as the venue does.
        self.refusals_how = REFUSALS.get(f"{self.venue}/{api}", REFUSALS.get(self.venue, Refusals()))
        self.enabled = enabled
        self.ban_seconds = FIRST_BAN
        self.set_limits(limits)

    def set_limits(self, limits: VenueLimits) -> None:
        """New limits (for tests); counts and peaks start over."""
        self.limits = limits
        self.connects = Window(limits.connect_window)
        self.weight = Window(limits.rest_window)
        self.rest_blocked_until = 0.0  # a 429's Retry-After: asking again before it earns a ban
        self.banned_until = 0.0
        self.bans = 0
        self.peaks: dict[str, float] = dict.fromkeys(("connects", "streams", "sends", "rest_weight"), 0.0)
        self.refused: Counter[str] = Counter()

    # --- websocket ---------------------------------------------------------------------

    def on_upgrade(self, now: float) -> tuple[int, dict[str, Any], float] | None:
        """None to accept this connection attempt, else (status, body, Retry-After)."""
        limit = self.limits.connects
        if self.enabled and self.connects.used(now) + 1 > limit:
            self.refused["connects"] += 1
            wait = self.connects.free_at(now, 1, limit)
            return self.refusals_how.upgrade_status, {"error": "too many connection attempts"}, wait
        self._peak("connects", self.connects.add(now, 1))
        return None

    def opened(self, session: ClientSession, now: float) -> None:
        session.extra["limits"] = ConnectionCount(now)
        # A venue that refuses the subscription over its cap in its own words (Bitfinex's
        # error 10305) rather than closing: its dialect reads the cap here and reports
        # each refusal in STREAMS_REFUSED.
        session.extra[STREAM_CAP] = self.limits.streams_per_connection if self.enabled else None

    def on_message(self, session: ClientSession, frame: Any, now: float) -> Refuse | None:
        """A message the client sent; a Refuse means it is not processed."""
        count: ConnectionCount | None = session.extra.get("limits")
        if count is None:
            return None
        sent = count.sends.add(now, 1)
        self._peak("sends", sent)
        if not self.enabled or sent <= self.limits.sends_per_second:
            return None
        self.refused["sends"] += 1
        how = self.refusals_how
        frames = [how.error_frame(frame)] if how.error_frame is not None else []
        return Refuse(frames, (how.close_code, how.close_reason) if how.close_on_messages else None)

    def after_message(self, session: ClientSession) -> Refuse | None:
        """After the dialect answered a message: the connection's streams within bounds?"""
        refused_here = session.extra.pop(STREAMS_REFUSED, 0)
        if refused_here:
            self.refused["streams"] += refused_here
        streams = self.streams(session)
        self._peak("streams", streams)
        if not self.enabled or streams <= self.limits.streams_per_connection:
            return None
        self.refused["streams"] += 1
        return Refuse([], (self.refusals_how.close_code, "Too many streams"))

    def streams(self, session: ClientSession) -> int:
        """Streams (Binance's stream names) or else markets subscribed on the connection."""
        names = session.extra.get("streams")
        return len(names) if isinstance(names, list) else len(session.subscribed)

    def expired(self, session: ClientSession, now: float) -> bool:
        count: ConnectionCount | None = session.extra.get("limits")
        lifetime = self.limits.max_lifetime
        return bool(self.enabled and lifetime and count is not None and now - count.opened >= lifetime)

    # --- REST ----------------------------------------------------------------------------

    def on_rest(self, path: str, now: float) -> tuple[int, dict[str, Any], float] | None:
        """None to answer this request, else (status, body, Retry-After)."""
        weight = self.limits.rest_weight(path)
        if not self.enabled:
            self._peak("rest_weight", self.weight.add(now, weight))
            return None
        how = self.refusals_how
        if now < self.banned_until:
            self.refused["rest_banned"] += 1
            return 418, self._ban_body(), self.banned_until - now
        if how.bans and now < self.rest_blocked_until:
            # Asked again before the Retry-After passed: a ban, longer for each repeat.
            self.banned_until = now + self.ban_seconds
            self.ban_seconds = min(LONGEST_BAN, self.ban_seconds * 2)
            self.bans += 1
            self.refused["rest_banned"] += 1
            return 418, self._ban_body(), self.banned_until - now
        budget = self.limits.rest_budget
        if self.weight.used(now) + weight > budget:
            wait = self.weight.free_at(now, weight, budget)
            self.rest_blocked_until = now + wait
            self.refused["rest"] += 1
            return how.rest_status, dict(how.rest_body), wait
        self._peak("rest_weight", self.weight.add(now, weight))
        return None

    def _ban_body(self) -> dict[str, Any]:
        return {"code": -1003, "msg": "Way too much request weight used; IP banned. Please use WebSocket Streams."}

    # --- reporting -------------------------------------------------------------------------

    def _peak(self, name: str, value: float) -> None:
        if value > self.peaks[name]:
            self.peaks[name] = value

    def describe(self, now: float) -> dict[str, Any]:
        limits = self.limits
        of = {
            "connects": limits.connects,
            "streams": limits.streams_per_connection,
            "sends": limits.sends_per_second,
            "rest_weight": limits.rest_budget,
        }
        return {
            "venue": self.venue,
            "enforced": self.enabled,
            "limits": limits.as_dict(),
            "peaks": {
                name: {"peak": self.peaks[name], "limit": limit, "ratio": round(self.peaks[name] / limit, 4)}
                for name, limit in of.items()
            },
            "refusals": dict(sorted(self.refused.items())),
            "banned_for": max(0.0, self.banned_until - now),
            "bans": self.bans,
        }


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up: a client that waits them is then inside the limit."""
    return str(max(1, math.ceil(seconds)))
