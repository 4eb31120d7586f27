"""Adapters layer: migration 0005: `exit_orders.pending_id`, OpenAlgo's `pending_order_id` of
an exit queued for approval in its Action Center (semi-auto mode; the row's state is
QUEUED_FOR_APPROVAL). Nullable: every earlier row has none.

Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exit_orders") as batch:
        batch.add_column(sa.Column("pending_id", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exit_orders") as batch:
        batch.drop_column("pending_id")
