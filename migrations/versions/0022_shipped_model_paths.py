"""Shipped model files by name, not by the checkout's absolute path: a registered model or CCS
predictor whose path lies in some checkout's `models/pretrained/` becomes `shipped:<name>`
(molvis/workflows/model_loading.py resolves it inside whichever molvis runs), so a dump
restored on another host or in an image finds its files.

Revision ID: 0022_shipped_model_paths
Revises: 0021_ranker_presence
Create Date: 2026-12-06
"""

from pathlib import Path

from alembic import op

revision = "0022_shipped_model_paths"
down_revision = "0021_ranker_presence"
branch_labels = None
depends_on = None

TABLES = ("model", "ccs_predictor")
PRETRAINED = Path(__file__).resolve().parents[2] / "models" / "pretrained"


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"""
            UPDATE {table}
            SET path = 'shipped:' || substring(path from '/models/pretrained/(.+)$')
            WHERE path ~ '/models/pretrained/.+$'
        """)


def downgrade() -> None:
    """Back to this checkout's absolute paths, which molvis before 0022 reads."""
    for table in TABLES:
        op.execute(f"""
            UPDATE {table} SET path = '{PRETRAINED.as_posix()}/' || substring(path from 9)
            WHERE path LIKE 'shipped:%'
        """)
