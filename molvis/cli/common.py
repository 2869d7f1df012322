"""What every command shares: the one-line error type, exit codes, the engine and the schema
check."""

from __future__ import annotations

from sqlalchemy import Engine

EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(Exception):
    """A problem to report to the user in one line."""


def engine() -> Engine:
    """The configured registry's engine (the embedded server starts on first use)."""
    from registry.db import get_engine

    return get_engine()


def require_schema() -> None:
    from registry import migrate

    if migrate.current_revision() is None:
        raise CliError("the database has no molvis schema yet: run `molvis db upgrade` first")
