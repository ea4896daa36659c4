"""Defaults for the `Scheme` members most venues answer the same way.

Each scheme class inherits `SchemeDefaults` and overrides only what its venue
does otherwise, so a venue module shows what is particular to it. A plain
class, so that compiled (mypyc) schemes can inherit it.
"""

from __future__ import annotations

from typing import Any

from translations.protocol import BookView, Instrument, Remedy


class SchemeDefaults:
    name: str
    # A lost book is repaired by renewing the connection unless the venue can do better.
    remedies: frozenset[Remedy] = frozenset()

    def instruments_from_url(self, url: str) -> list[Instrument]:
        """Most venues take subscriptions as frames only, never in the URL."""
        return []

    def ping_msg(self, state: Any) -> list[str]:
        """No application ping: the venue's heartbeats or websocket-level pings
        keep the connection alive."""
        return []

    def synchronised(self, state: Any) -> bool:
        """Every scheme's state keeps in `broken` why its connection is beyond
        repair (None while it is not)."""
        return state.broken is None

    def checksum(self, book: BookView, symbol: str) -> int | None:
        """Only venues that send `Verify` have a checksum; no book is ever
        checked against this one."""
        raise NotImplementedError(f"{self.name} sends no checksums")
