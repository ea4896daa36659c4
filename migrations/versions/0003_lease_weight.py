"""A market's weight (its owner's smoothed frame rate) beside its lease, for placement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # 0: not measured yet; placement counts at least its floor.
    op.add_column("market_leases", sa.Column("weight", sa.Float(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    op.drop_column("market_leases", "weight")
