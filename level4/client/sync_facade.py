"""A blocking face for scripts and notebooks: the asyncio `Client` runs on
a thread of its own, and each method waits for its answer.

    with Client.sync("http://127.0.0.1:8000") as client:
        book = client.book("COINBASE.SPOT:BTC-USD")
        book.wait_synchronised(10)
        print(book.bids[:5], client.top("COINBASE.SPOT:BTC-USD"))

Mirrors are read from any thread (they lock); their `on_change` callbacks
run on the client's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any, TypeVar

from level4.client.async_client import Client
from level4.client.book_mirror import BookMirror, BookView, Side
from level4.client.client_errors import ClientClosed
from level4.client.client_records import Top
from level4.client.market_patterns import Selector

T = TypeVar("T")


class SyncBook:
    """A mirror seen from another thread: the same reads, and a blocking wait."""

    def __init__(self, mirror: BookMirror, call: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        self.mirror = mirror
        self._call = call

    @property
    def market(self) -> str:
        return self.mirror.market

    @property
    def market_id(self) -> int:
        return self.mirror.market_id

    @property
    def bids(self) -> Side:
        return self.mirror.bids

    @property
    def asks(self) -> Side:
        return self.mirror.asks

    @property
    def synchronised(self) -> bool:
        return self.mirror.synchronised

    @property
    def sequence(self) -> int | None:
        return self.mirror.sequence

    @property
    def reason(self) -> str | None:
        return self.mirror.reason

    def view(self, depth: int | None = None) -> BookView:
        return self.mirror.view(depth)

    def orders(self, side: str, price: Decimal | str) -> int | None:
        return self.mirror.orders(side, price)

    def on_change(self, callback: Callable[[BookMirror], None]) -> Callable[[], None]:
        return self.mirror.on_change(callback)

    def wait_synchronised(self, timeout: float | None = 30.0) -> None:
        self._call(self.mirror.wait_synchronised(timeout))

    def __repr__(self) -> str:
        return repr(self.mirror)


class SyncClient:
    def __init__(self, url: str, token: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="level4-client", daemon=True)
        self._thread.start()
        self._closed = False
        try:
            self._client: Client = self._call(self._open(url, token, options))
        except BaseException:
            self._stop()
            raise

    @staticmethod
    async def _open(url: str, token: str | None, options: dict[str, Any]) -> Client:
        client = Client(url, token, **options)
        await client.open()
        return client

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coroutine.close()
            raise ClientClosed("the client was closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def client(self) -> Client:
        """The asyncio client underneath (its loop runs on the client's thread)."""
        return self._client

    @property
    def connected(self) -> bool:
        return self._client.connected

    def markets(self, *selectors: Selector) -> list[dict[str, Any]]:
        return self._call(self._client.markets(*selectors))

    def book(self, market: Selector) -> SyncBook:
        return SyncBook(self._call(self._client.book(market)), self._call)

    def top(self, market: Selector) -> Top:
        return self._call(self._client.top(market))

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._call(self._client.close())
        finally:
            self._stop()

    def _stop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
