"""The root of the running service.

    root (one_for_one)
      registries   who is who in the market trees
      repo         the catalogue (SQLAlchemy)
      sink:<name>  one per configured sink (NATS, Redis): queued events out
      cluster-bus  in a cluster: this node's events out to the others, theirs in
      http         uvicorn serving the control API on the socket the service bound first
      markets      dynamic: one tree per running market
      cluster      (cluster mode only) the keeper: leases, placement, which markets run here
      cluster-statuses  (cluster mode only) asks the other nodes the status of the markets they run

Stopping the root stops these in reverse: the keeper first (fencing its
markets and handing their leases back), then the feeds, then the HTTP
server, the sinks (each flushing what is queued, within its deadline), the
repo and the registries.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import pykka
import structlog

from level4.api.app import create_app
from level4.catalogue import mask_url, upgrade
from level4.cluster.bus_child import bus_children, cluster_bus
from level4.cluster.bus_metrics import BusCollector
from level4.cluster.cluster_metrics import ClusterCollector
from level4.cluster.cluster_view import ClusterView
from level4.cluster.keeper import ClusterKeeper
from level4.cluster.status_poller import StatusPoller
from level4.config import Settings, is_unspecified
from level4.journal.writer import Journal
from level4.market.hub import EventHub
from level4.market.registry import Registry
from level4.market.status_board import StatusBoard
from level4.metrics.service import ServiceMetrics
from level4.service.control import ServiceControl
from level4.service.http import HttpServerActor
from level4.service.listener import check_tls, listen
from level4.service.markets import MarketControl
from level4.service.repo_actor import RepoActor
from level4.sinks import SinkConfigError, Sinks
from level4.stream.downstream import Downstream
from level4.supervision import scheduler
from level4.supervision.pykka_adapter import check_pykka
from level4.supervision.supervised import SupervisedActor, describe_reason, stop_quietly
from level4.supervision.supervisor import ChildSpec, Strategy, Supervisor

log = structlog.get_logger(__name__)


class RegistryActor(SupervisedActor):
    """Owns the registry's lifetime: a restarted tree starts with an empty one."""

    def __init__(self, registry: Registry, **supervision: Any) -> None:
        super().__init__(**supervision)
        self.registry = registry

    def on_stop(self) -> None:
        self.registry.clear()


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = Registry()
        self.board = StatusBoard()
        self.hub = EventHub()
        self.gave_up = threading.Event()
        try:
            scheduler.pool()  # started here so that a bad LEVEL4_SCHEDULERS stops the start with its reason
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        for problem in check_pykka():  # an installed pykka other than the one the adapter knows
            log.warning("pykka_internals_changed", problem=problem)
        try:
            self.sinks = Sinks(settings.sinks)
        except SinkConfigError as exc:
            raise SystemExit(f"LEVEL4_SINKS / --sink: {exc}") from None
        self.root: pykka.ActorRef[Any] | None = None
        self.listener: socket.socket | None = None
        self.journal: Journal | None = None
        self.markets = MarketControl(
            lambda: self._child("markets"),
            self.registry,
            self.board,
            self.hub,
            settings.market_max_restarts,
            settings.market_restart_window,
        )
        self.markets.shared_connections = settings.shared_connections
        self.markets.subscriptions_per_connection = settings.subscriptions_per_connection
        self.control = ServiceControl(lambda: self._child("repo"), self.markets, self.board, sinks=self.sinks.status)
        self.downstream = Downstream(self.hub, self.control, self.markets, settings.stream_queue)
        # Cluster mode: events between the nodes (None on a single node).
        self.bus = cluster_bus(
            settings,
            self.hub,
            self.registry,
            lambda market_id, deliver: self.downstream.request_book(market_id, "", deliver),
            lambda: list(self.markets.publishers),
        )
        self.downstream.remote = self.bus
        self.metrics = ServiceMetrics(self.board, self.markets.publishers, self.downstream.clients, self.sinks.status)
        if self.bus is not None:
            self.metrics.registry.register(BusCollector(self.bus))
        self.cluster: ClusterView | None = None
        if settings.node is not None:
            self.cluster = ClusterView(settings.node, "")
            self.control.cluster = self.cluster
            self.metrics.registry.register(ClusterCollector(self.cluster, self.markets.publishers))
            if self.bus is not None:
                self.bus.attach(self.cluster.runs_here)  # a node sends what its leases say it runs

    def _child(self, name: str) -> pykka.ActorProxy[Any]:
        if self.root is None:
            raise pykka.ActorDeadError("the service is not running")
        ref = self.root.proxy().child(name).get(timeout=10)
        if ref is None:
            raise pykka.ActorDeadError(f"{name} is restarting")
        return ref.proxy()

    def start(self, listener: socket.socket | None = None) -> None:
        """Start the tree, serving HTTP on `listener` (bound here when not given; the service
        closes it when it stops); ServeError (port taken, certificate unreadable) or
        CatalogueError when it cannot."""
        s = self.settings
        # First, and outside the tree: a port another process holds is the user's to fix, not a
        # child's crash for the supervisor to restart.
        if listener is None:
            check_tls(s.ssl_certfile, s.ssl_keyfile)
            listener = listen(s.host, s.port)
        self.listener = listener
        upgrade(s.database_url)
        app = create_app(
            self.control, s.api_token, self.downstream, self.metrics, s.served_hosts(), s.cors_origins, self.cluster
        )
        children = [
            ChildSpec.for_actor("registries", RegistryActor, self.registry),
            ChildSpec.for_actor("repo", RepoActor, s.database_url),
            *self.sinks.child_specs(),
            *bus_children(self.bus),
            ChildSpec.for_actor(
                "http", HttpServerActor, app, self.listener, ssl_certfile=s.ssl_certfile, ssl_keyfile=s.ssl_keyfile
            ),
            ChildSpec(
                "markets",
                lambda parent: Supervisor.start(
                    strategy=Strategy.ONE_FOR_ONE,
                    on_child_event=self.markets.on_dynamic_event,
                    parent=parent,
                    child_name="markets",
                ),
                shutdown=60.0,
            ),
        ]
        children += self._cluster_children()
        # Queue from the first event on, whatever the sinks' servers do; in a cluster, only
        # this node's markets' events (the others' owners send theirs).
        self.sinks.attach(self.hub, self.bus.is_own_event if self.bus is not None else None)
        if s.journal.directory is not None:
            self.journal = self.markets.journal = Journal(s.journal)
        self.root = Supervisor.start(
            children,
            strategy=Strategy.ONE_FOR_ONE,
            max_restarts=10,
            max_seconds=60.0,
            on_give_up=self._gave_up,
            child_name="root",
        )
        log.info("service_started", database=mask_url(s.database_url), url=self.http_url())
        if s.start_enabled and self.cluster is None:  # in a cluster, the keeper starts this node's share
            started = self.control.start_enabled()
            log.info("enabled_markets_started", count=started)

    def _cluster_children(self) -> list[ChildSpec]:
        """The keeper, after the markets it starts and stops (so stopped before them)."""
        if self.cluster is None:
            return []
        url = self.settings.node_url or self.http_url()
        if not self.settings.node_url and is_unspecified(self.settings.host):  # every address: one others reach
            url = url.replace(f"//{self.settings.host}:", f"//{socket.gethostname()}:", 1)
        self.cluster.url = url.rstrip("/")
        s = self.settings
        keeper = (s.database_url, self.cluster, self.markets, s.lease_ttl, s.placement_group, s.weight_window)
        # The owners' word on their markets' status, asked every tick, taken for three ticks.
        self.control.remote_max_age = s.lease_ttl
        poller = (self.cluster, s.lease_ttl / 3, s.api_token)
        return [
            ChildSpec.for_actor("cluster", ClusterKeeper, *keeper),
            ChildSpec.for_actor("cluster-statuses", StatusPoller, *poller),
        ]

    def http_port(self) -> int:
        if self.listener is None:
            raise pykka.ActorDeadError("the service is not running")
        return int(self.listener.getsockname()[1])

    def http_url(self) -> str:
        """Where the control API and the dashboard answer, e.g. http://127.0.0.1:8000/."""
        host = self.settings.host
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.settings.ssl_certfile else "http"
        return f"{scheme}://{host}:{self.http_port()}/"

    def _gave_up(self, reason: BaseException) -> None:
        log.critical("service_gave_up", reason=describe_reason(reason))
        self.gave_up.set()

    def stop(self, timeout: float = 60.0) -> None:
        if self.root is not None:
            # The markets first, side by side: the tree's own shutdown stops its children one by one.
            with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                self.markets.stop_all()
        root, self.root = self.root, None
        if root is not None:
            stop_quietly(root, timeout)
            log.info("service_stopped")
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        self.sinks.detach()
        journal, self.journal = self.journal, None
        if journal is not None:
            journal.close()  # after the markets: their last frames are in the queue by now
