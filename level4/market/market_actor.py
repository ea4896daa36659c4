"""The base of a market tree's actors: registration by role.

An actor registers as it is created, so messages for its role reach the
new incarnation at once after a restart, and unregisters however it ends
(a stop, or a crash, after which pykka skips on_stop), so the registry never
points at a dead actor for longer than it takes to replace it.
"""

from __future__ import annotations

from typing import Any

from level4.market.context import MarketContext
from level4.supervision.supervised import SupervisedActor


class MarketActor(SupervisedActor):
    role = ""

    def __init__(self, ctx: MarketContext, **supervision: Any) -> None:
        super().__init__(**supervision)
        self.ctx = ctx
        ctx.registry.register(ctx.market_id, self.role, self.actor_ref)

    def _on_exit(self) -> None:
        self.ctx.registry.unregister(self.ctx.market_id, self.role, self.actor_ref)
