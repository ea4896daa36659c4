"""The catalogue: symbols, exchanges and markets.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Written out rather than imported from the models, so this revision keeps
    # meaning what it meant when the models change.
    op.create_table(
        "symbols",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.CheckConstraint("symbol = upper(symbol)", name=op.f("ck_symbols_upper")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_symbols")),
        sa.UniqueConstraint("symbol", name=op.f("uq_symbols_symbol")),
    )
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("ws_url", sa.String(length=2048), nullable=True),
        sa.Column("rest_url", sa.String(length=2048), nullable=True),
        sa.CheckConstraint("name = upper(name)", name=op.f("ck_exchanges_upper")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchanges")),
        sa.UniqueConstraint("name", name=op.f("uq_exchanges_name")),
    )
    op.create_table(
        "markets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_symbol_id", sa.Integer(), nullable=False),
        sa.Column("quote_symbol_id", sa.Integer(), nullable=False),
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("market_type", sa.String(length=16), nullable=False),
        sa.Column("instrument", sa.String(length=128), server_default=sa.text("''"), nullable=False),
        sa.Column("level4_feed_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("market_type IN ('SPOT', 'PERP', 'FUTURE', 'OPTION')", name=op.f("ck_markets_market_type")),
        sa.ForeignKeyConstraint(["base_symbol_id"], ["symbols.id"], name=op.f("fk_markets_base_symbol_id_symbols")),
        sa.ForeignKeyConstraint(["quote_symbol_id"], ["symbols.id"], name=op.f("fk_markets_quote_symbol_id_symbols")),
        sa.ForeignKeyConstraint(["exchange_id"], ["exchanges.id"], name=op.f("fk_markets_exchange_id_exchanges")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_markets")),
        sa.UniqueConstraint(
            "base_symbol_id",
            "quote_symbol_id",
            "exchange_id",
            "market_type",
            "instrument",
            name=op.f("uq_markets_identity"),
        ),
    )


def downgrade() -> None:
    op.drop_table("markets")
    op.drop_table("exchanges")
    op.drop_table("symbols")
