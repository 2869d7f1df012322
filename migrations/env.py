"""Alembic environment: runs migrations on the connection molvis hands over, or on molvis's database."""

from __future__ import annotations

from alembic import context

from registry.db.connection import get_engine
from registry.db.schema import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with get_engine().begin() as conn:
        _run(conn)
