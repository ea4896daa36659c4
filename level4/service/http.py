"""The HTTP server actor: uvicorn serving the Starlette app in its own thread.

The listening socket is bound once, before the service's tree starts (`listen`),
and belongs to the service: a port that is taken is a configuration error
reported at start, not a crash for the supervisor to restart, and a restarted
HTTP actor serves the same socket without a window for another process to take
the port.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette

from level4.supervision.supervised import SupervisedActor

log = structlog.get_logger(__name__)


class ListenError(Exception):
    """The control API's address cannot be listened on (taken, not ours, bad name)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host, self.port, self.reason = host, port, reason
        super().__init__(f"cannot listen on {host}:{port}: {reason}")

    def advice(self) -> str:
        if self.reason == "address already in use":
            return f"another process is listening on port {self.port}; stop it or choose another port with --port"
        return "choose another address with --host / --port"


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port); ListenError if it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ListenError(host, port, f"unknown host ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restarted service may rebind while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, (exc.strerror or str(exc)).lower()) from None
    return sock


class HttpServerActor(SupervisedActor):
    def __init__(
        self,
        app: Starlette,
        listener: socket.socket,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        **supervision: Any,
    ) -> None:
        super().__init__(**supervision)
        host, port = listener.getsockname()[:2]
        self.config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
        )
        self.server = uvicorn.Server(self.config)
        # uvicorn closes the sockets it serves when it stops; a copy keeps the service's own open.
        self.socket = listener.dup()
        self.thread: threading.Thread | None = None

    def on_start(self) -> None:
        # uvicorn leaves signals alone outside the main thread; they are the service's to handle.
        self.thread = threading.Thread(target=self.server.run, args=([self.socket],), name="level4-http", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"HTTP server could not start on {self.config.host}:{self.config.port}")
            time.sleep(0.01)
        log.info("http_listening", host=self.config.host, port=self.port())

    def port(self) -> int:
        return self.config.port

    def on_stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.socket.close()  # closed already when uvicorn ran; not when it never started
