"""The `level4` command."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence

import structlog

from level4 import __version__, logs, markets_cli
from level4.config import Settings
from level4.export import export_cli
from level4.journal import options as journal_options
from level4.replay import replay_cli
from level4.service.listener import ServeError, check_tls, listen
from level4.simulator import simulator_cli

log = structlog.get_logger("level4")


def _service_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="SQLAlchemy URL (default: LEVEL4_DATABASE_URL, else ./level4.sqlite3)")
    p.add_argument("--no-start", action="store_true", help="do not start markets whose feed flag is on")
    p.add_argument(
        "--sink",
        action="append",
        metavar="URL",
        help="send every event to this nats:// or redis:// URL (repeatable; replaces LEVEL4_SINKS)",
    )
    journal_options.add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="level4", description="live, exact level-2 order books")
    parser.add_argument("--version", action="version", version=f"level4 {__version__}")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the service (the default command)")
    serve.add_argument("--host", help="listen address (default: LEVEL4_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: LEVEL4_PORT, else 8000)")
    serve.add_argument("--node", help="join the cluster under this node name (default: LEVEL4_NODE; none: single node)")
    serve.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    _service_args(serve)
    serve.set_defaults(func=run_serve)

    migrate = sub.add_parser("migrate", help="bring the catalogue's schema up to date")
    migrate.add_argument("--database-url")
    migrate.set_defaults(func=run_migrate)

    console = sub.add_parser("console", help="IPython with the service running in-process")
    _service_args(console)
    # Not LEVEL4_PORT: that is the running service's port, which the console must not collide with.
    console.add_argument("--port", type=int, help="control API and dashboard port (default: any free port)")
    console.set_defaults(func=run_console)

    simulator_cli.add_parser(sub)
    replay_cli.add_parser(sub)
    export_cli.add_parser(sub)
    markets_cli.add_parser(sub)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings()
    for name in ("host", "port", "database_url", "ssl_certfile", "ssl_keyfile", "node"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(settings, name, value)
    if getattr(args, "no_start", False):
        settings.start_enabled = False
    if getattr(args, "sink", None):
        settings.sinks = list(args.sink)
    journal_options.apply_arguments(args, settings.journal)
    return settings


def bind(settings: Settings) -> socket.socket | None:
    """The control API's socket, or None having said in one line why it cannot be had (port
    taken, certificate unreadable). Before the service's imports, so that this is said at once."""
    try:
        check_tls(settings.ssl_certfile, settings.ssl_keyfile)
        return listen(settings.host, settings.port)
    except ServeError as exc:
        log.error("start_failed", error=exc.code, detail=f"{exc}; {exc.advice}")
        return None


def run_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    logs.configure(settings.log_level)
    settings.check_exposure()
    settings.check_cluster()
    listener = bind(settings)
    if listener is None:
        return 1

    from level4.catalogue import CatalogueError
    from level4.service import gc_policy
    from level4.service.root import Service

    service = Service(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        service.start(listener)
    except CatalogueError as exc:
        log.error("start_failed", error=exc.error, detail=exc.detail)
        service.stop()
        return 1
    except RuntimeError as exc:
        log.error("start_failed", detail=str(exc))
        service.stop()
        return 1
    gc_policy.apply()
    while not stop.wait(0.5):
        if service.gave_up.is_set():
            service.stop()
            return 1
    service.stop()
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from level4.catalogue import CatalogueError, mask_url, upgrade

    settings = settings_from(args)
    logs.configure(settings.log_level)
    try:
        upgrade(settings.database_url)
    except CatalogueError as exc:
        log.error("migrate_failed", error=exc.error, detail=exc.detail)
        return 1
    log.info("migrated", database=mask_url(settings.database_url))
    return 0


def run_console(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.port is None:
        settings.port = 0
    # An interactive prompt drowns in info lines; warnings and worse still show.
    logs.configure(os.environ.get("LEVEL4_LOG_LEVEL", "WARNING"))
    settings.check_exposure()
    settings.check_cluster()
    listener = bind(settings)
    if listener is None:
        return 1

    from level4.catalogue import CatalogueError
    from level4.console import run

    try:
        return run(settings, listener)
    except CatalogueError as exc:
        log.error("start_failed", error=exc.error, detail=exc.detail)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
