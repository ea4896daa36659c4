"""The HTTP server actor: uvicorn serving the Starlette app in its own thread,
on the socket the service bound before starting its tree (level4.service.listener):
a restarted actor serves the same socket, so no other process can take the port
in between.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette

from level4.stream.close_protocol import ClosingWebSocketProtocol
from level4.supervision.supervised import SupervisedActor

log = structlog.get_logger(__name__)


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
            ws=ClosingWebSocketProtocol,  # /stream's slow-consumer close reaches a client that stopped reading
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

    def on_failure(self, *_exc_info: object) -> None:
        self.on_stop()  # a failed start too: no server left running, no copy of the socket left open
