"""Database connection: a configured PostgreSQL URL, or the embedded pgserver under MOLVIS_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from registry.db import embedded
from registry.db.embedded import READER_ROLE
from registry.db.settings import Settings, load_settings


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    return embedded.stop(settings or load_settings())


def database_url(settings: Settings | None = None) -> str:
    """SQLAlchemy URL (psycopg 3 driver) of the registry database."""
    settings = settings or load_settings()
    if settings.database_url is None:
        return embedded.start(settings)
    url = make_url(settings.database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def reader_database_url(settings: Settings | None = None) -> str:
    """URL for read-only use (UI, SQL search): MOLVIS_READER_URL, else the read-only role that
    the migrations create, on the same server (with its generated password when embedded)."""
    settings = settings or load_settings()
    if settings.reader_url:
        return database_url(Settings(settings.home, settings.reader_url))
    if settings.database_url is None:
        return embedded.reader_url(settings, database_url(settings))
    url = make_url(database_url(settings))
    reader = URL.create(
        url.drivername, READER_ROLE, None, url.host, url.port, url.database, url.query
    )
    return reader.render_as_string(hide_password=False)


READER_TIMEOUT = "30s"  # what one query of the page may take, whatever the role's default


def get_reader_engine(settings: Settings | None = None) -> Engine:
    """Engine that can only read: the UI connects with it, each connection with its own
    statement timeout (the role's default is only a default: a session may change it)."""
    return _engine_for(reader_database_url(settings), f"-c statement_timeout={READER_TIMEOUT}")


def libpq_url(url: str) -> str:
    """The same URL without the SQLAlchemy driver suffix, for psql and psycopg."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@lru_cache(maxsize=8)
def _engine_for(url: str, options: str = "") -> Engine:
    connect_args: dict = {"prepare_threshold": None} | ({"options": options} if options else {})
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the configured database."""
    return _engine_for(database_url(settings))


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


# The read-only role, created where it is missing (migration 0004, and `molvis db restore`
# before a dump's grants to it); a user who may not create roles is told who can.
ENSURE_READER_ROLE = f"""
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER_ROLE}') THEN
            CREATE ROLE {READER_ROLE} LOGIN;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the read-only role {READER_ROLE} does not exist and % may not create '
            'it: a superuser runs CREATE ROLE {READER_ROLE} LOGIN once', current_user;
    END $$;
"""


def set_role_password(session: Session, role: str, password: str) -> None:
    """Give a login role a password, inside the session's transaction."""
    embedded.set_password(session.connection().connection.driver_connection, role, password)
