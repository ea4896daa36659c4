"""The catalogue schema: symbols, exchanges and the markets joining them.

Market data never goes here; the database only says which markets exist and
which of them should have a live feed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

MARKET_TYPES = ("SPOT", "PERP", "FUTURE", "OPTION")

SYMBOL_LENGTH = 32
NAME_LENGTH = 32
URL_LENGTH = 2048
MARKET_TYPE_LENGTH = 16
INSTRUMENT_LENGTH = 128

# Explicit constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Symbol(Base):
    __tablename__ = "symbols"
    __table_args__ = (CheckConstraint("symbol = upper(symbol)", name="upper"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LENGTH), unique=True)


class Exchange(Base):
    __tablename__ = "exchanges"
    __table_args__ = (CheckConstraint("name = upper(name)", name="upper"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    # Overrides of the venue's default endpoints (testnets, proxies, the simulator).
    ws_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    rest_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))


class Market(Base):
    __tablename__ = "markets"
    __table_args__ = (
        UniqueConstraint(
            "base_symbol_id", "quote_symbol_id", "exchange_id", "market_type", "instrument", name="uq_markets_identity"
        ),
        CheckConstraint(f"market_type IN ({', '.join(repr(t) for t in MARKET_TYPES)})", name="market_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_symbol_id: Mapped[int] = mapped_column(ForeignKey("symbols.id"))
    quote_symbol_id: Mapped[int] = mapped_column(ForeignKey("symbols.id"))
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id"))
    market_type: Mapped[str] = mapped_column(String(MARKET_TYPE_LENGTH))
    # The venue's instrument name for dated futures and options; '' (not NULL)
    # so that the unique constraint also holds for markets without one.
    instrument: Mapped[str] = mapped_column(String(INSTRUMENT_LENGTH), default="", server_default=text("''"))
    level4_feed_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # Many-to-one and always needed to describe a market: load them in the same query.
    base: Mapped[Symbol] = relationship(foreign_keys=[base_symbol_id], lazy="joined", innerjoin=True)
    quote: Mapped[Symbol] = relationship(foreign_keys=[quote_symbol_id], lazy="joined", innerjoin=True)
    exchange: Mapped[Exchange] = relationship(lazy="joined", innerjoin=True)


# --- the cluster (level4/cluster/): which node runs which market ---------------------


class ClusterNode(Base):
    """A level4 process of the cluster, alive while its heartbeat is recent."""

    __tablename__ = "cluster_nodes"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    load: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))


class MarketLease(Base):
    """Who may run a market until when; `epoch` grows by one at every change of owner,
    so what a deposed owner published can always be told apart."""

    __tablename__ = "market_leases"

    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id", ondelete="CASCADE"), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The owner's smoothed frame rate, published at renewal: the market's weight in placement.
    weight: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
