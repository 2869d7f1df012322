"""The read-only role gets a statement timeout: the UI and anyone given the reader password can
read everything, but no single query of theirs can hold the server for long.

Revision ID: 0007_reader_timeout
Revises: 0006_search_whole
Create Date: 2026-11-25
"""

from alembic import op

revision = "0007_reader_timeout"
down_revision = "0006_search_whole"
branch_labels = None
depends_on = None

READER = "molvis_reader"
TIMEOUT = "30s"


def upgrade() -> None:
    op.execute(f"ALTER ROLE {READER} SET statement_timeout = '{TIMEOUT}'")


def downgrade() -> None:
    op.execute(f"ALTER ROLE {READER} RESET statement_timeout")
