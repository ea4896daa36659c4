"""One market's supervision tree.

    market-<id>  (one_for_all)
      exchange
      level2     (rest_for_one)
        mediator, orderbook, websocket

rest_for_one below level2: a crashed orderbook takes the websocket with it
(a new, empty book needs a fresh snapshot, which only a new connection
brings), while a crashed websocket alone just reconnects. one_for_all
above: the exchange's event sequence restarts with the whole market.
"""

from __future__ import annotations

from typing import Any

import pykka

from level4.market.context import MarketContext
from level4.market.exchange_actor import ExchangeActor
from level4.market.mediator_actor import MediatorActor
from level4.market.orderbook_actor import OrderBookActor
from level4.market.websocket_actor import WebsocketActor
from level4.supervision.supervisor import ChildEventCallback, ChildSpec, Restart, Strategy, Supervisor


def child_name(market_id: int) -> str:
    return f"market-{market_id}"


def market_spec(
    ctx: MarketContext, max_restarts: int, max_seconds: float, on_child_event: ChildEventCallback | None = None
) -> ChildSpec:
    level2 = [
        ChildSpec.for_actor("mediator", MediatorActor, ctx),
        ChildSpec.for_actor("orderbook", OrderBookActor, ctx),
        ChildSpec.for_actor("websocket", WebsocketActor, ctx),
    ]

    def start_level2(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        return Supervisor.start(
            level2,
            strategy=Strategy.REST_FOR_ONE,
            max_restarts=max_restarts,
            max_seconds=max_seconds,
            restart_delay=0.05,
            on_child_event=on_child_event,
            parent=parent,
            child_name="level2",
        )

    name = child_name(ctx.market_id)

    def start_market(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        ref = Supervisor.start(
            [ChildSpec.for_actor("exchange", ExchangeActor, ctx), ChildSpec("level2", start_level2)],
            strategy=Strategy.ONE_FOR_ALL,
            max_restarts=max_restarts,
            max_seconds=max_seconds,
            restart_delay=0.05,
            on_child_event=on_child_event,
            parent=parent,
            child_name=name,
        )
        ctx.registry.register(ctx.market_id, "market", ref)
        return ref

    # Temporary: a market that gave up stays down, reported failed, until an operator acts.
    return ChildSpec(name, start_market, restart=Restart.TEMPORARY, shutdown=10.0)
