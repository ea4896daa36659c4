"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_EVERY = 0.2  # seconds between redraws


class ProgressBar:
    def __init__(self, total_bytes: int, stream: TextIO | None = None, force: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or self.stream.isatty()
        self.total = max(total_bytes, 1)
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, done_bytes: int, events: int, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._drawn < _EVERY:
            return
        self._drawn = now
        share = min(done_bytes / self.total, 1.0)
        filled = int(share * 30)
        rate = events / max(now - self.started, 1e-9)
        line = (
            f"\rexport [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} "
            f"{done_bytes / 1e6:,.1f}/{self.total / 1e6:,.1f} MB  {events:,} events  {rate:,.0f}/s"
        )
        self.stream.write(line)
        self.stream.flush()

    def close(self, done_bytes: int, events: int) -> None:
        if self.enabled:
            self.update(done_bytes, events, final=True)
            self.stream.write("\n")
            self.stream.flush()
