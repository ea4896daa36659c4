"""Sink URLs: what `LEVEL4_SINKS` and `--sink` name, parsed and checked once at start.

    nats://[user:pass@]host:4222?stream=LEVEL4&prefix=level4
    redis://[:pass@]host:6379/0?maxlen=100000&prefix=level4      (rediss:// for TLS)

Every kind also takes `name` (in logs and /health), `queue` (events held
while the server is slow or down), `retry_max` (backoff cap, seconds) and
`flush` (seconds granted at shutdown to deliver what is queued). level4's
own parameters are removed before the URL reaches the client library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from level4.catalogue.catalogue_url import mask_endpoint

KINDS = {"nats": "nats", "redis": "redis", "rediss": "redis"}
COMMON = {"name", "queue", "retry_max", "flush"}
OWN = {"nats": {"stream", "prefix"}, "redis": {"maxlen", "prefix"}}

# JetStream stream names: no whitespace, '.', '*', '>', path separators.
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# One or more subject tokens, without wildcards.
_SUBJECT_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class SinkConfigError(ValueError):
    """A sink URL that cannot work; the message says which and why."""


@dataclass(frozen=True)
class SinkSpec:
    kind: str  # "nats" or "redis"
    name: str
    url: str  # for the client library: level4's parameters removed
    queue: int = 100_000
    retry_max: float = 30.0
    flush: float = 3.0
    options: dict[str, str] = field(default_factory=dict)  # kind-specific, checked

    @property
    def shown_url(self) -> str:
        """The URL fit for logs and /health: any password hidden."""
        return str(mask_endpoint(self.url))


def parse_sinks(urls: Iterable[str]) -> list[SinkSpec]:
    """Specs for the given URLs, each named uniquely (`redis`, `redis-2`, ...)."""
    specs: list[SinkSpec] = []
    for raw in urls:
        spec = parse_sink(raw)
        taken = {s.name for s in specs}
        if spec.name in taken:
            n = 2
            while f"{spec.name}-{n}" in taken:
                n += 1
            spec = replace(spec, name=f"{spec.name}-{n}")
        specs.append(spec)
    return specs


def parse_sink(raw: str) -> SinkSpec:
    shown = mask_endpoint(raw)
    parts = urlsplit(raw)
    kind = KINDS.get(parts.scheme.lower())
    if kind is None:
        raise SinkConfigError(f"sink {shown}: unknown scheme {parts.scheme!r}; use nats://, redis:// or rediss://")
    if not parts.hostname:
        raise SinkConfigError(f"sink {shown}: no host")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    ours = {k: v for k, v in params.items() if k in COMMON | OWN[kind]}
    library = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    if kind == "nats" and library:
        raise SinkConfigError(f"sink {shown}: unknown parameter {library[0][0]!r}")
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(library), parts.fragment))

    options: dict[str, str] = {}
    if kind == "nats":
        options["stream"] = ours.get("stream", "LEVEL4")
        options["prefix"] = ours.get("prefix", "level4")
        if not _STREAM_NAME.match(options["stream"]):
            raise SinkConfigError(f"sink {shown}: stream must be letters, digits, '_' or '-'")
        if not _SUBJECT_PREFIX.match(options["prefix"]):
            raise SinkConfigError(f"sink {shown}: prefix must be subject tokens (letters, digits, '_', '-', '.')")
    else:
        options["prefix"] = ours.get("prefix", "level4")
        options["maxlen"] = str(_count(ours, "maxlen", 100_000, shown))
        if not options["prefix"]:
            raise SinkConfigError(f"sink {shown}: prefix must not be empty")
    return SinkSpec(
        kind=kind,
        name=ours.get("name") or kind,
        url=url,
        queue=_count(ours, "queue", 100_000, shown),
        retry_max=_positive(ours, "retry_max", 30.0, shown),
        flush=_positive(ours, "flush", 3.0, shown),
        options=options,
    )


def _positive(params: dict[str, str], key: str, default: float, shown: str | None) -> float:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SinkConfigError(f"sink {shown}: {key} must be a number, got {raw!r}") from None
    if not value > 0:
        raise SinkConfigError(f"sink {shown}: {key} must be positive, got {raw!r}")
    return value


def _count(params: dict[str, str], key: str, default: int, shown: str | None) -> int:
    value = _positive(params, key, default, shown)
    if value != int(value):
        raise SinkConfigError(f"sink {shown}: {key} must be a whole number, got {params[key]!r}")
    return int(value)
