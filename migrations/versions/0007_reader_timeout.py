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
    # an owner without the right to alter roles migrates on, and is told what to ask for
    op.execute(f"""
        DO $$ BEGIN
            ALTER ROLE {READER} SET statement_timeout = '{TIMEOUT}';
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING '{READER}''s statement_timeout not set (% may not alter roles): a '
                'superuser runs ALTER ROLE {READER} SET statement_timeout = ''{TIMEOUT}''',
                current_user;
        END $$;
    """)


def downgrade() -> None:
    op.execute(f"ALTER ROLE {READER} RESET statement_timeout")
