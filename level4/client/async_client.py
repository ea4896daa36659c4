"""`Client`: the asyncio face of the library.

    async with Client("http://127.0.0.1:8000", token=None) as client:
        book = await client.book("COINBASE.SPOT:BTC-USD")
        await book.wait_synchronised()
        async for trade in client.trades("COINBASE.SPOT:BTC-USD"): ...

Everything goes over one /stream websocket (see `stream_connection`); tags
and patterns are resolved with `GET /markets`.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from level4.client.book_mirror import BookMirror
from level4.client.client_errors import ClientClosed, ClientError
from level4.client.client_records import Top, Trade
from level4.client.event_feeds import Feed
from level4.client.market_patterns import Selector, resolve
from level4.client.reconnect_policy import ReconnectPolicy
from level4.client.service_rest import ServiceRest, stream_url
from level4.client.stream_connection import StreamConnection
from level4.client.subscription_table import MARKET_CHANNELS, SubscriptionTable

if TYPE_CHECKING:
    from level4.client.sync_facade import SyncClient

FEED_LIMIT = 100_000  # events a feed may hold unread before it gives up (SlowConsumer)


class Client:
    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        ssl: ssl.SSLContext | None = None,
        reconnect: ReconnectPolicy | None = None,
        open_timeout: float = 10.0,
        request_timeout: float = 10.0,
        feed_limit: int = FEED_LIMIT,
    ) -> None:
        """`url`: the service's base URL (`https://` for TLS, verified with
        `ssl` when given); `token`: its `LEVEL4_API_TOKEN`, sent as a Bearer
        header; `open_timeout`: how long the first connection may take before
        `ServiceUnavailable`; later connections are retried for ever."""
        self.url = url
        self._table = SubscriptionTable()
        self._rest = ServiceRest(url, token, ssl, request_timeout)
        self._stream = StreamConnection(
            stream_url(url),
            token,
            ssl,
            self._rest,
            self._table,
            reconnect or ReconnectPolicy(),
            open_timeout,
            request_timeout,
        )
        self._feed_limit = feed_limit
        self._opened = False
        self._closed = False

    @staticmethod
    def sync(url: str, token: str | None = None, **options: Any) -> SyncClient:
        """A blocking client for scripts and notebooks: the same client on a thread of its own."""
        from level4.client.sync_facade import SyncClient

        return SyncClient(url, token, **options)

    # --- life ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        try:
            await self._stream.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stream.close()
        await self._rest.close()
        closed = ClientClosed("the client was closed")
        for mirror in self._table.mirrors.values():
            mirror.mark_failed(closed)
        for feed in self._table.feeds:
            feed.finish(closed)

    async def __aenter__(self) -> Client:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._stream.connected.is_set()

    @property
    def connection(self) -> StreamConnection:
        """The websocket's keeper: its `sessions` and `gaps` counters tell how it went."""
        return self._stream

    # --- markets and books ----------------------------------------------------------------

    async def markets(self, *selectors: Selector) -> list[dict[str, Any]]:
        """The service's markets (`GET /markets`), or those the ids, tags or patterns choose."""
        self._check()
        listed = await self._rest.markets()
        if not selectors:
            return listed
        chosen = resolve(selectors, listed, strict=True)
        return [m for m in listed if int(m["id"]) in chosen]

    async def book(self, market: Selector) -> BookMirror:
        """A live mirror of one market's book (the same object for the same market)."""
        market_id, tag = await self._one(market)
        mirror = self._table.mirrors.get(market_id)
        if mirror is None:
            mirror = BookMirror(tag, market_id)
            self._table.mirrors[market_id] = mirror
            self._stream.retake(market_id)
        return mirror

    async def release(self, book: BookMirror) -> None:
        """Stop keeping a mirror: its channels are unsubscribed unless others read them."""
        if self._table.mirrors.get(book.market_id) is book:
            del self._table.mirrors[book.market_id]
            book.mark_lost("released")
            self._stream.kick()

    async def top(self, market: Selector) -> Top:
        """The market's best bid and ask as last published (`GET /markets/{id}/top`)."""
        market_id, _tag = await self._one(market)
        return Top.from_body(await self._rest.top(market_id))

    # --- feeds -----------------------------------------------------------------------------

    async def events(
        self, markets: Selector | Iterable[Selector], channels: Iterable[str] = ("top", "trade", "book", "status")
    ) -> AsyncIterator[dict[str, Any]]:
        """The events (README, "Events": dicts, decimals as strings) of the
        chosen markets' channels, in the order the service sent them, until the
        client closes. Patterns are chosen again on every reconnect."""
        feed = await self._open_feed(markets, channels)
        try:
            while True:
                try:
                    event = await feed.next()
                except ClientClosed:
                    return
                yield event
        finally:
            self._close_feed(feed)

    async def trades(self, markets: Selector | Iterable[Selector]) -> AsyncIterator[Trade]:
        """The chosen markets' trades, in order, as `Trade` with `Decimal` price and size."""
        async for event in self.events(markets, ["trade"]):
            yield Trade.from_event(event)

    # --- internals ---------------------------------------------------------------------------

    def _check(self) -> None:
        if self._stream.failure is not None:
            raise self._stream.failure
        if self._closed or not self._opened:
            raise ClientClosed("the client is not open: use `async with Client(...)` or `await client.open()`")

    async def _one(self, market: Selector) -> tuple[int, str]:
        self._check()
        chosen = resolve([market], await self._rest.markets(), strict=True)
        if len(chosen) != 1:
            raise ClientError(f"{market!r} chooses {len(chosen)} markets; this takes one")
        [(market_id, tag)] = chosen.items()
        return market_id, tag

    async def _open_feed(self, markets: Selector | Iterable[Selector], channels: Iterable[str]) -> Feed:
        self._check()
        selectors = [markets] if isinstance(markets, int | str) else list(markets)
        wanted = list(channels)
        unknown = sorted(set(wanted) - MARKET_CHANNELS)
        if not selectors or not wanted or unknown:
            raise ValueError(f"choose markets and channels among {', '.join(sorted(MARKET_CHANNELS))}: {unknown}")
        feed = Feed(selectors, wanted, self._feed_limit)
        feed.markets = resolve(selectors, await self._rest.markets(), strict=True)
        self._table.add_feed(feed)
        self._stream.kick()
        return feed

    def _close_feed(self, feed: Feed) -> None:
        self._table.remove_feed(feed)
        if not self._closed:
            self._stream.kick()
