"""How long the client waits before reconnecting: exponential backoff with
jitter, so many clients of a restarted service do not return in step."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    initial: float = 0.1  # seconds before the first retry
    factor: float = 2.0
    maximum: float = 10.0  # the cap
    jitter: float = 0.5  # each delay is drawn from [1 - jitter, 1] times the nominal one

    def __post_init__(self) -> None:
        if not (self.initial > 0 and self.factor >= 1 and self.maximum >= self.initial and 0 <= self.jitter <= 1):
            raise ValueError(f"a reconnect policy needs 0 < initial <= maximum, factor >= 1, 0 <= jitter <= 1: {self}")

    def delay(self, attempt: int, draw: random.Random | None = None) -> float:
        """The wait before retry number `attempt` (0 for the first)."""
        nominal = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return nominal * (1 - self.jitter * (draw or random).random())
