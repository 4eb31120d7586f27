"""Adapters layer: migration 0003: one trade per entry order, and the journal mark.

`trades (account, entry_order_id)` becomes unique, so the same broker order can never be
guarded by two trades (createtrade answers 409 with the existing trade). Duplicates left by
older versions keep their first trade's id; later ones get `#dup-<trade id>` appended (the
original id stays readable). `journal_marks` holds the newest write-ahead journal sequence
number already in the database (adapters/db/journal.py).

Revises: 0002
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
    trades = sa.table(
        "trades",
        sa.column("trade_id", sa.String()),
        sa.column("account", sa.String()),
        sa.column("entry_order_id", sa.String()),
        sa.column("entered_at", sa.BigInteger()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(trades.c.trade_id, trades.c.account, trades.c.entry_order_id)
        .where(trades.c.entry_order_id.is_not(None))
        .order_by(trades.c.entered_at, trades.c.trade_id)
    ).all()
    seen: set[tuple[str, str]] = set()
    for trade_id, account, order_id in rows:
        if (account, order_id) in seen:
            bind.execute(
                trades.update()
                .where(trades.c.trade_id == trade_id)
                .values(entry_order_id=f"{order_id}#dup-{trade_id}")
            )
        seen.add((account, order_id))
    op.create_index(
        "ux_trades_account_entry_order_id", "trades", ["account", "entry_order_id"], unique=True
    )
    op.create_table(
        "journal_marks",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_journal_marks")),
    )


def downgrade() -> None:
    op.drop_table("journal_marks")
    op.drop_index("ux_trades_account_entry_order_id", table_name="trades")
