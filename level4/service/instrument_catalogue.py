"""The venues' own instrument lists, fetched over REST, cached and refreshed.

Each API of an exchange fetches its `list_paths` from the exchange's REST
override where the catalogue has one (the simulator, a proxy), else from the
scheme's `list_url` or `rest_url`, and reads the answers with the scheme's
`instruments_from_list`. A list is kept for `ttl` seconds; a refresh that
fails keeps serving the last good list (and says how old it is). One API whose
list cannot be had is named with its reason while the others are served; only
an exchange none of whose lists can be had is an error.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from level4.catalogue.catalogue_errors import CatalogueError
from translations import schemes_of
from translations.instrument_listing import Listing, ListingError
from translations.protocol import Scheme

log = structlog.get_logger(__name__)

MAX_BYTES = 64 * 2**20  # Binance's exchangeInfo is some 2 MB; anything past this is no list
TIMEOUT = 15.0

Fetch = Callable[[str], Any]


class ListUnavailable(CatalogueError):
    """No list of the exchange's could be fetched or read."""

    error = "list_unavailable"
    status = 502


def fetch_json(url: str) -> Any:
    """GET a URL and parse its JSON (ValueError saying why not)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "level4"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # the catalogue keeps http(s) URLs only
            body = answer.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ValueError(f"HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ValueError(f"{url} did not answer: {getattr(exc, 'reason', exc)}") from None
    if len(body) > MAX_BYTES:
        raise ValueError(f"{url} answered more than {MAX_BYTES} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError(f"{url} answered no JSON") from None


@dataclass
class Fetched:
    """One exchange's lists as last fetched."""

    at: float  # clock time of the fetch that made `listings`
    listings: list[tuple[str, Listing]]  # (api, listing)
    unavailable: list[dict[str, str]] = field(default_factory=list)  # {"api", "reason"} of APIs without a list
    refresh_error: str | None = None  # why the latest refresh failed, while the older lists are served


class InstrumentCatalogue:
    def __init__(self, fetch: Fetch = fetch_json, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], Fetched] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def lists(self, exchange: str, rest_override: str | None) -> Fetched:
        """The exchange's listings, fetched now if none are cached or they are older than ttl."""
        key = (exchange.upper(), rest_override or "")
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one fetch per exchange at a time; the others wait for its answer
            cached = self._cache.get(key)
            if cached is not None and self._clock() - cached.at < self.ttl:
                return cached
            fresh = self._fetch_all(key[0], rest_override)
            if not fresh.listings and cached is not None and cached.listings:
                reasons = "; ".join(f"{u['api']}: {u['reason']}" for u in fresh.unavailable)
                log.warning("instrument_list_refresh_failed", exchange=key[0], reason=reasons)
                cached.refresh_error = reasons
                return cached
            if not fresh.listings:
                reasons = "; ".join(f"{u['api']}: {u['reason']}" for u in fresh.unavailable)
                raise ListUnavailable(f"no instrument list of {key[0]} could be had ({reasons})")
            self._cache[key] = fresh
            log.info("instrument_list_fetched", exchange=key[0], instruments=len(fresh.listings))
            return fresh

    def age(self, fetched: Fetched) -> float:
        """Seconds since the lists were fetched."""
        return self._clock() - fetched.at

    def _fetch_all(self, exchange: str, rest_override: str | None) -> Fetched:
        out = Fetched(self._clock(), [])
        for scheme in schemes_of(exchange):
            api = scheme.api or "default"
            try:
                out.listings.extend((api, listing) for listing in self._fetch_api(scheme, rest_override))
            except ValueError as exc:  # ListingError too: a list not in its venue's shape
                out.unavailable.append({"api": api, "reason": str(exc)})
        return out

    def _fetch_api(self, scheme: Scheme, rest_override: str | None) -> list[Listing]:
        base = (rest_override or scheme.list_url or scheme.rest_url).rstrip("/")
        if not base or not scheme.list_paths:
            raise ListingError(f"{scheme.name} names no instrument list to fetch")
        listings: list[Listing] = []
        for path in scheme.list_paths:
            listings.extend(scheme.instruments_from_list(path, self._fetch(base + path)))
        return listings
