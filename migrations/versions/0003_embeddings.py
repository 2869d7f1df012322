"""Embeddings per model version: structures (every compound) and measurements (MS/MS, IR, CCS).

Revision ID: 0003_embeddings
Revises: 0002_models
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

revision = "0003_embeddings"
down_revision = "0002_models"
branch_labels = None
depends_on = None

EMBED_DIM = 256


def upgrade() -> None:
    op.create_table(
        "structure_embedding",
        sa.Column(
            "model_id", sa.Integer, sa.ForeignKey("model.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "compound_id",
            sa.BigInteger,
            sa.ForeignKey("compound.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("embedding", Vector(EMBED_DIM), nullable=False),
    )
    op.create_index("ix_structure_embedding_compound", "structure_embedding", ["compound_id"])
    op.create_table(
        "measurement_embedding",
        sa.Column(
            "model_id", sa.Integer, sa.ForeignKey("model.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("modality", sa.Text, primary_key=True),
        sa.Column("measurement_id", sa.BigInteger, primary_key=True),
        sa.Column(
            "compound_id",
            sa.BigInteger,
            sa.ForeignKey("compound.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("embedding", Vector(EMBED_DIM), nullable=False),
        sa.CheckConstraint("modality IN ('msms', 'ir', 'ccs')", name="measurement_modality"),
    )


def downgrade() -> None:
    op.drop_table("measurement_embedding")
    op.drop_table("structure_embedding")
