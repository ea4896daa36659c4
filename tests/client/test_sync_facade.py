"""The blocking facade, from plain threads: no event loop of the caller's."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from level4.client import BookMirror, Client, ClientClosed, SyncBook, UnknownMarket
from level4.client.book_mirror import BookView
from tests.client.live_service import exact_now, live_venue
from tests.support import wait_for

pytestmark = pytest.mark.slow


def test_the_sync_facade_mirrors_a_book_readable_from_any_thread(tmp_path: Path) -> None:
    with live_venue(tmp_path) as live, Client.sync(live.base) as client:
        book = client.book(live.tag)
        assert isinstance(book, SyncBook) and client.book(live.tag).mirror is book.mirror
        book.wait_synchronised(10)
        changes: list[int | None] = []
        book.on_change(lambda m: changes.append(m.sequence))  # called on the client's thread

        # readers on other threads see whole, sorted, uncrossed books, never half an event
        views: list[BookView] = []
        errors: list[BaseException] = []

        def read() -> None:
            try:
                stop_at = time.monotonic() + 1.5
                while time.monotonic() < stop_at:
                    view = book.view(10)
                    if view.synchronised:
                        assert view.bids[0].price < view.asks[0].price
                        assert view.bids == sorted(view.bids, reverse=True) and view.asks == sorted(view.asks)
                        views.append(view)
                    assert len(book.bids[:3]) <= 3
                    time.sleep(0.001)
            except BaseException as exc:
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(30)
        assert not errors and len(views) > 100 and len(changes) > 10
        assert len({v.sequence for v in views}) > 10  # they read while the book changed
        sequences = [s for s in changes if s is not None]
        assert sequences == sorted(sequences)

        top = client.top(live.tag)
        assert top.market == live.tag and top.bid is not None and top.ask is not None and top.bid.price < top.ask.price
        assert [m["tag"] for m in client.markets("COINBASE.*")] == [live.tag]
        with pytest.raises(UnknownMarket):
            client.book("COINBASE.SPOT:NOPE-USD")

        live.sim.pause()
        wait_for(lambda: exact_now(live, book), what="mirror == served book == reference")

    # closed: the mirror says so, and waiting on it raises rather than hangs
    assert not book.synchronised and not book.bids
    assert isinstance(book.mirror, BookMirror) and book.mirror.reason == "the client was closed"
    with pytest.raises(ClientClosed):
        client.book(live.tag)
    with pytest.raises(ClientClosed):
        book.wait_synchronised(1)
