"""Who is who in the running tree: market id and tag -> the actors of its
tree. Actors register themselves on start, so a restarted actor replaces
its predecessor and everyone looks up the current one."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pykka

from level4.supervision import teller

ROLES = ("market", "exchange", "mediator", "orderbook", "websocket")


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actors: dict[tuple[int, str], pykka.ActorRef] = {}
        # The same actors as the way to tell each one a message (one call on the hot path).
        self._tells: dict[tuple[int, str], Callable[[object], bool]] = {}
        self._tags: dict[str, int] = {}

    def register(self, market_id: int, role: str, ref: pykka.ActorRef) -> None:
        with self._lock:
            self._actors[(market_id, role)] = ref
            self._tells[(market_id, role)] = teller(ref)

    def unregister(self, market_id: int, role: str, ref: pykka.ActorRef) -> None:
        with self._lock:
            if self._actors.get((market_id, role)) is ref:
                del self._actors[(market_id, role)]
                del self._tells[(market_id, role)]

    def lookup(self, market_id: int, role: str) -> pykka.ActorRef | None:
        # A plain dict read; the GIL makes it atomic, and it is on the hot path.
        return self._actors.get((market_id, role))

    def tell(self, market_id: int, role: str, message: object) -> bool:
        """Tell the current actor of that role; False if there is none alive
        (between a crash and its restart, messages to it are dropped: the
        restart resynchronises the market from scratch anyway)."""
        tell = self._tells.get((market_id, role))
        return tell(message) if tell is not None else False

    def tag(self, tag: str, market_id: int | None) -> None:
        with self._lock:
            if market_id is None:
                self._tags.pop(tag, None)
            else:
                self._tags[tag] = market_id

    def by_tag(self, tag: str) -> int | None:
        return self._tags.get(tag)

    def clear(self) -> None:
        with self._lock:
            self._actors.clear()
            self._tells.clear()
            self._tags.clear()
