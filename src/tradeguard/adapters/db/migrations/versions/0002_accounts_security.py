"""Adapters layer: migration 0002: API key lookup id on accounts, and dashboard users.

`accounts.api_key_id` is the non-secret prefix of the account's API key (unique), so that
authentication verifies one argon2 hash; `users` holds dashboard logins (argon2 password hash,
failed-login count and lockout time). Batch mode keeps the downgrade working on SQLite.

Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(), nullable=True))
        batch.create_index("ix_accounts_api_key_id", ["api_key_id"], unique=True)
    op.create_table(
        "users",
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_account"), "users", ["account"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_users_account"), table_name="users")
    op.drop_table("users")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index("ix_accounts_api_key_id")
        batch.drop_column("api_key_id")
