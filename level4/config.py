"""Settings from the environment, overridable on the command line."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field

from level4.api.allowed_hosts import ANY, LOOPBACK_NAMES, origin_of
from level4.catalogue.catalogue_url import default_url
from level4.journal.options import JournalOptions


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


@dataclass
class Settings:
    host: str = field(default_factory=lambda: os.environ.get("LEVEL4_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("LEVEL4_PORT", "8000")))
    database_url: str = field(default_factory=default_url)
    api_token: str | None = field(default_factory=lambda: os.environ.get("LEVEL4_API_TOKEN") or None)
    log_level: str = field(default_factory=lambda: os.environ.get("LEVEL4_LOG_LEVEL", "INFO"))
    # A market tree restarted more often than this is stopped and reported failed.
    market_max_restarts: int = field(default_factory=lambda: int(_env_float("LEVEL4_MARKET_MAX_RESTARTS", 5)))
    market_restart_window: float = field(default_factory=lambda: _env_float("LEVEL4_MARKET_RESTART_WINDOW", 60.0))
    ssl_certfile: str | None = field(default_factory=lambda: os.environ.get("LEVEL4_SSL_CERTFILE") or None)
    ssl_keyfile: str | None = field(default_factory=lambda: os.environ.get("LEVEL4_SSL_KEYFILE") or None)
    start_enabled: bool = True  # start markets whose feed flag is set in the catalogue
    # Messages a /stream client may have queued unsent before it is disconnected as too slow.
    stream_queue: int = field(default_factory=lambda: int(_env_float("LEVEL4_STREAM_QUEUE", 10_000)))
    # Sink URLs (level4.sinks.spec): every event also goes to these NATS / Redis servers.
    sinks: list[str] = field(default_factory=lambda: _env_list("LEVEL4_SINKS"))
    journal: JournalOptions = field(default_factory=JournalOptions.from_env)  # no directory: no journal
    # Host names requests may carry (any port; "*" any) besides the loopback names and the listen address.
    allowed_hosts: list[str] = field(default_factory=lambda: _env_list("LEVEL4_ALLOWED_HOSTS"))
    # Origins of other sites' pages that may change the service and open /stream (scheme://host[:port]).
    cors_origins: list[str] = field(default_factory=lambda: _env_list("LEVEL4_CORS_ORIGINS"))

    # Cluster mode: a node name (LEVEL4_NODE or --node) joins the cluster of the catalogue's PostgreSQL.
    node: str | None = field(default_factory=lambda: os.environ.get("LEVEL4_NODE", "").strip() or None)
    # The URL other nodes forward requests for this node's markets to (default: from host and port).
    node_url: str | None = field(default_factory=lambda: os.environ.get("LEVEL4_NODE_URL", "").strip() or None)
    # The NATS server the nodes exchange their markets' events through.
    cluster_bus: str | None = field(default_factory=lambda: os.environ.get("LEVEL4_CLUSTER_BUS", "").strip() or None)
    # The cluster's name on the bus (its stream and subjects); default: the catalogue database's name,
    # so two clusters of two catalogues never read each other's events from one NATS server.
    cluster: str | None = field(default_factory=lambda: os.environ.get("LEVEL4_CLUSTER", "").strip() or None)
    # A market lease's life in seconds; renewed every third of it, so a dead node's markets move within it.
    lease_ttl: float = field(default_factory=lambda: _env_float("LEVEL4_LEASE_TTL", 5.0))
    # Markets of one venue placed together on one node, in blocks of this many (shared connections pay).
    placement_group: int = field(default_factory=lambda: int(_env_float("LEVEL4_PLACEMENT_GROUP", 200)))
    # Seconds over which a market's frame rate (its weight in placement) is averaged.
    weight_window: float = field(default_factory=lambda: _env_float("LEVEL4_WEIGHT_WINDOW", 120.0))

    def served_hosts(self) -> list[str]:
        """The Host names the API answers to. The loopback names always: no other site's page
        can make a browser send them, and the healthcheck uses them."""
        names = [*LOOPBACK_NAMES, *self.allowed_hosts]
        if not is_unspecified(self.host):
            names.append(self.host)  # clients that reach the service by the address it listens on
        return names

    # Markets of one venue share connections when its scheme can route frames (off: one each).
    shared_connections: bool = field(
        default_factory=lambda: (
            os.environ.get("LEVEL4_SHARED_CONNECTIONS", "1").strip().lower() not in ("0", "false", "no")
        )
    )
    # A smaller cap than the venue's on the markets one shared connection carries (None: the venue's).
    subscriptions_per_connection: int | None = field(
        default_factory=lambda: int(_env_float("LEVEL4_SUBSCRIPTIONS_PER_CONNECTION", 0)) or None
    )

    def check_cluster(self) -> None:
        """Refuse, in one line, a node that cannot take part in a cluster."""
        if self.node is None:
            return
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", self.node):
            raise SystemExit(
                f"LEVEL4_NODE / --node: {self.node!r} is not a node name (letters, digits, _ . -; 32 at most)"
            )
        if not self.database_url.startswith("postgresql"):
            raise SystemExit(
                f"cluster node {self.node}: the catalogue must be PostgreSQL "
                "(LEVEL4_DATABASE_URL=postgresql+psycopg://...), as the nodes keep their leases there"
            )
        if not self.cluster_bus or not self.cluster_bus.startswith("nats://"):
            raise SystemExit(
                f"cluster node {self.node}: set LEVEL4_CLUSTER_BUS=nats://host:4222, the NATS JetStream the nodes share"
            )
        if self.placement_group < 1:
            raise SystemExit(f"LEVEL4_PLACEMENT_GROUP must be at least 1, got {self.placement_group}")
        if self.weight_window <= 0:
            raise SystemExit(f"LEVEL4_WEIGHT_WINDOW must be positive, got {self.weight_window}")
        if not 1.0 <= self.lease_ttl <= 300.0:
            raise SystemExit(f"LEVEL4_LEASE_TTL must be between 1 and 300 seconds, got {self.lease_ttl}")

    def check_exposure(self) -> None:
        """Refuse to serve the control API beyond this machine without a token,
        and origins that are not origins."""
        for origin in self.cors_origins:
            if origin == ANY or origin_of(origin) is None:
                raise SystemExit(
                    f"LEVEL4_CORS_ORIGINS: {origin!r} is not an origin; list each site as scheme://host[:port], "
                    "e.g. https://desk.example.com ('*' is not accepted: any page could then change the service)"
                )
        if self.api_token:
            return
        if not is_loopback(self.host):
            raise SystemExit(
                f"refusing to listen on {self.host}: the control API would be open to the network. "
                "Set LEVEL4_API_TOKEN (clients then send 'Authorization: Bearer <token>'), "
                "or listen on 127.0.0.1."
            )


def is_unspecified(host: str) -> bool:
    """0.0.0.0 or ::, every address of the machine."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
