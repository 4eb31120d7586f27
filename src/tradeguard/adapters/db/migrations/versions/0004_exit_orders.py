"""Adapters layer: migration 0004: the exit-order ledger (`exit_orders`).

One row per exit order tradeguard sent or intended to send (an intent is a row before the broker
answered, with no order id). An order id is unique per account (a partial unique index: intents
have none). Existing trades' last exit order ids stay in `trades.exit_order_id`; start-up also
reads them as claimed, so nothing is lost for rows written before this migration.

Revises: 0002 (the lead re-chains it after 0003 when the branches merge)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exit_orders",
        sa.Column("exit_id", sa.String(), nullable=False),
        sa.Column("trade_id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("exchange", sa.String(), nullable=False),
        sa.Column("product", sa.String(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("intent_at", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("trigger", sa.BigInteger(), nullable=True),
        sa.Column("tick_price", sa.BigInteger(), nullable=True),
        sa.Column("tick_time", sa.BigInteger(), nullable=True),
        sa.Column("order_id", sa.String(), nullable=True),
        sa.Column("filled", sa.BigInteger(), nullable=False),
        sa.Column("average_price", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.BigInteger(), nullable=True),
        sa.Column("acked_at", sa.BigInteger(), nullable=True),
        sa.Column("final_at", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("exit_id", name=op.f("pk_exit_orders")),
    )
    op.create_index("ix_exit_orders_trade_id", "exit_orders", ["trade_id"], unique=False)
    op.create_index("ix_exit_orders_state", "exit_orders", ["state"], unique=False)
    op.create_index(
        "uq_exit_orders_account_order_id",
        "exit_orders",
        ["account", "order_id"],
        unique=True,
        sqlite_where=sa.text("order_id IS NOT NULL"),
        postgresql_where=sa.text("order_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_exit_orders_account_order_id", table_name="exit_orders")
    op.drop_index("ix_exit_orders_state", table_name="exit_orders")
    op.drop_index("ix_exit_orders_trade_id", table_name="exit_orders")
    op.drop_table("exit_orders")
