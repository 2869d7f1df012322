"""Alembic entry points: upgrade and downgrade the registry schema from Python or the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from registry.db.connection import get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _run(step, revision: str, engine: Engine | None) -> None:
    """One Alembic command in one transaction on the registry's engine."""
    config = _config()
    with (engine or get_engine()).begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def upgrade(revision: str = "head", engine: Engine | None = None) -> None:
    """Migrate the registry up to `revision` (default: the newest)."""
    _run(command.upgrade, revision, engine)


def downgrade(revision: str = "base", engine: Engine | None = None) -> None:
    """Migrate the registry down to `revision` (default: empty database)."""
    _run(command.downgrade, revision, engine)


def current_revision(engine: Engine | None = None) -> str | None:
    """The schema revision the database is at, or None before the first upgrade."""
    engine = engine or get_engine()
    with engine.connect() as connection:
        exists = connection.execute(text("SELECT to_regclass('alembic_version')")).scalar()
        if exists is None:
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
