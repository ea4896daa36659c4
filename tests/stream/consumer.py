"""A /stream consumer as a client program would write one: a websocket, a
reader thread, and books kept by applying snapshots and deltas."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support import wait_for


class LocalBook:
    """Levels keyed by price value, as the service keys them."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, list[Any]] = {}
        self.asks: dict[Decimal, list[Any]] = {}
        self.synchronised = False

    def apply(self, event: dict[str, Any]) -> None:
        if event["snapshot"]:
            self.bids, self.asks = {}, {}
        self.synchronised = event["synchronised"]
        for side, levels in ((self.bids, event["bids"]), (self.asks, event["asks"])):
            for level in levels:
                price = Decimal(level[0])
                if Decimal(level[1]) == 0:
                    side.pop(price, None)
                else:
                    side[price] = level

    def as_dict(self) -> dict[str, Any]:
        return {
            "synchronised": self.synchronised,
            "bids": [self.bids[p] for p in sorted(self.bids, reverse=True)],
            "asks": [self.asks[p] for p in sorted(self.asks)],
        }


class Consumer:
    def __init__(self, url: str, rcvbuf: int | None = None, read: bool = True, **options: Any) -> None:
        sock = None
        if rcvbuf is not None:
            # A small receive buffer: a client that stops reading is felt by the server at once.
            host, _, port = url.split("/")[2].partition(":")
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.connect((host, int(port)))
        self.ws: ClientConnection = connect(url, sock=sock, open_timeout=10, **options).__enter__()
        self.messages: list[dict[str, Any]] = []
        self.books: dict[int, LocalBook] = {}
        self.epochs: dict[int, int] = {}  # market -> the epoch of the last book event applied
        self.closed: ConnectionClosed | None = None
        self.reading = threading.Event()
        if read:
            self.reading.set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self.reading.wait()
                message = json.loads(self.ws.recv())
                with self._lock:
                    self.messages.append(message)
                    if message.get("channel") == "book":
                        self.books.setdefault(message["market_id"], LocalBook()).apply(message)
                        self.epochs[message["market_id"]] = message.get("epoch", 0)
        except ConnectionClosed as exc:
            self.closed = exc

    def send(self, **request: Any) -> None:
        self.ws.send(json.dumps(request))

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)

    def book(self, market_id: int) -> dict[str, Any]:
        with self._lock:
            book = self.books.get(market_id)
            return book.as_dict() if book else {"synchronised": False, "bids": [], "asks": []}

    def book_epoch(self, market_id: int) -> int:
        with self._lock:
            return self.epochs.get(market_id, -1)

    def wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0, what: str = ""
    ) -> dict[str, Any]:
        """The first message (already received or to come) that satisfies the predicate."""
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [m for m in self.snapshot() if predicate(m)]
            return bool(found)

        wait_for(seen, timeout=timeout, what=what or "a message")
        return found[0]

    def reply(self, kind: str, request_id: Any, timeout: float = 10.0) -> dict[str, Any]:
        return self.wait(lambda m: m.get("type") == kind and m.get("id") == request_id, timeout, f"{kind} {request_id}")

    def close(self) -> None:
        self.reading.set()
        self.ws.close()
        self._thread.join(5)
