"""The values the client hands out: levels, trades and tops, with exact
`Decimal` prices and sizes (never float)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple


class Level(NamedTuple):
    """One price level. `Decimal` keeps the service's string exactly ("1.50"
    stays "1.50" when printed) and compares by value ("1.50" == "1.5")."""

    price: Decimal
    size: Decimal


def level_of(raw: list[Any] | None) -> Level | None:
    return None if raw is None else Level(Decimal(raw[0]), Decimal(raw[1]))


def decimal_of(raw: str | None) -> Decimal | None:
    return None if raw is None else Decimal(raw)


@dataclass(frozen=True, slots=True)
class Trade:
    market: str
    market_id: int
    sequence: int
    side: str
    price: Decimal
    size: Decimal
    trade_id: str | None
    venue_time: float | None
    received_at: float

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Trade:
        trade_id = event.get("trade_id")
        return cls(
            market=event["market"],
            market_id=event["market_id"],
            sequence=event["sequence"],
            side=event["side"],
            price=Decimal(event["price"]),
            size=Decimal(event["size"]),
            trade_id=None if trade_id is None else str(trade_id),
            venue_time=event.get("venue_time"),
            received_at=event["received_at"],
        )


@dataclass(frozen=True, slots=True)
class Top:
    """The best bid and ask as the service last published them (`GET /markets/{id}/top`)."""

    market: str
    synchronised: bool
    bid: Level | None
    ask: Level | None
    spread: Decimal | None
    mid: Decimal | None
    sequence: int | None
    venue_time: float | None
    received_at: float | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Top:
        return cls(
            market=body["market"],
            synchronised=bool(body.get("synchronised")),
            bid=level_of(body.get("bid")),
            ask=level_of(body.get("ask")),
            spread=decimal_of(body.get("spread")),
            mid=decimal_of(body.get("mid")),
            sequence=body.get("sequence"),
            venue_time=body.get("venue_time"),
            received_at=body.get("received_at"),
        )
