"""A venue's published limits, as data each scheme states beside its dialect.

Every scheme module has `limits = VenueLimits(...)` with the venue's own
numbers and the page they come from; where a venue publishes no number the
module says so and states a conservative one. The service's limiter
(`level4/net/venue_limiter.py`) paces connects, sent messages and REST
weight by them, and the simulator refuses clients that exceed them the way
the venue does, so the same numbers are honoured and checked.

Every window is a sliding one: at no moment may the last `window` seconds
hold more than the limit. That is what the venues enforce (Binance counts
per fixed minute, which a sliding window never exceeds either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True, slots=True)
class VenueLimits:
    connects: int  # websocket connection attempts allowed per `connect_window`, per egress address
    connect_window: float  # seconds
    streams_per_connection: int  # subscriptions (streams, topics, channels) one connection may carry
    sends_per_second: int  # messages a client may send on one connection in any second
    rest_budget: int  # REST weight allowed per `rest_window`, per egress address
    rest_window: float  # seconds
    # The weight of a REST call by its `limit` query parameter: (highest limit, weight), ascending;
    # a call without `limit`, or with one above every bound, weighs `rest_weight_default`.
    rest_weights: tuple[tuple[int, int], ...] = ()
    rest_weight_default: int = 1
    rest_limit_default: int = 100  # the `limit` the venue assumes when a call names none
    max_lifetime: float | None = None  # seconds after which the venue cuts a connection
    retry_after: float = 60.0  # seconds to back off after an HTTP refusal that names no Retry-After
    close_backoff: float = 10.0  # after a throttling close: no venue documents a wait for it
    # Websocket close codes by which the venue says "too many requests".
    throttle_close_codes: tuple[int, ...] = (1008, 1013)
    # HTTP statuses by which the venue says "too many requests" (REST and websocket upgrades).
    throttle_statuses: tuple[int, ...] = (429, 418)

    def rest_weight(self, path: str) -> int:
        """What one REST call to `path` (with its query) costs against `rest_budget`."""
        if not self.rest_weights:
            return self.rest_weight_default
        raw = dict(parse_qsl(urlsplit(path).query)).get("limit")
        try:
            limit = int(raw) if raw is not None else self.rest_limit_default
        except ValueError:
            limit = self.rest_limit_default
        for bound, weight in self.rest_weights:
            if limit <= bound:
                return weight
        return self.rest_weight_default

    def fields(self) -> dict[str, Any]:
        return {
            "connects": self.connects,
            "connect_window": self.connect_window,
            "streams_per_connection": self.streams_per_connection,
            "sends_per_second": self.sends_per_second,
            "rest_budget": self.rest_budget,
            "rest_window": self.rest_window,
            "rest_weights": self.rest_weights,
            "rest_weight_default": self.rest_weight_default,
            "rest_limit_default": self.rest_limit_default,
            "max_lifetime": self.max_lifetime,
            "retry_after": self.retry_after,
            "close_backoff": self.close_backoff,
            "throttle_close_codes": self.throttle_close_codes,
            "throttle_statuses": self.throttle_statuses,
        }

    def scaled(self, **changes: Any) -> VenueLimits:
        """The same limits with some changed (tests run the venues' rules at smaller
        numbers); an unknown name raises TypeError."""
        unknown = set(changes) - set(self.fields())
        if unknown:
            raise TypeError(f"no such limit: {', '.join(sorted(unknown))}")
        return VenueLimits(**{**self.fields(), **changes})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the control API and the simulator."""
        out = self.fields()
        out["rest_weights"] = [list(pair) for pair in self.rest_weights]
        out["throttle_close_codes"] = list(self.throttle_close_codes)
        out["throttle_statuses"] = list(self.throttle_statuses)
        return out
