"""The HTTP server actor: uvicorn serving the Starlette app in its own thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette

from level4.supervision.supervised import SupervisedActor

log = structlog.get_logger(__name__)


class HttpServerActor(SupervisedActor):
    # Its own thread: on_start polls up to 10 s for uvicorn to listen and on_stop
    # joins its thread up to 5 s, waits that must not hold a scheduler worker.
    dispatcher = "thread"

    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        **supervision: Any,
    ) -> None:
        super().__init__(**supervision)
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
        self.thread: threading.Thread | None = None

    def on_start(self) -> None:
        # uvicorn leaves signals alone outside the main thread; they are the service's to handle.
        self.thread = threading.Thread(target=self.server.run, name="level4-http", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"HTTP server could not listen on {self.config.host}:{self.config.port}")
            time.sleep(0.01)
        log.info("http_listening", host=self.config.host, port=self.port())

    def port(self) -> int:
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.config.port

    def on_stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)
