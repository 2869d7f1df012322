"""What every command shares: the one-line error type, exit codes, the engine, the schema
check and the progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(Exception):
    """A problem to report to the user in one line."""


def engine() -> Engine:
    """The configured registry's engine (the embedded server starts on first use)."""
    from registry.db.connection import get_engine

    return get_engine()


def has_schema() -> bool:
    """Whether the database (by URL, else the embedded one) has molvis's schema."""
    from registry.db import migrate

    return migrate.current_revision() is not None


def require_schema() -> None:
    if not has_schema():
        raise CliError("the database has no molvis schema yet: run `molvis db upgrade` first")


class ProgressBars:
    """A command's progress bars on stderr (none with --json or off a terminal): one per file
    of an ingest, and one per step while it runs (the library index, the embedding)."""

    def __init__(self, quiet: bool) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._disable = quiet or None  # None: tqdm draws only on a terminal
        self._steps: dict[str, object] = {}

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        for bar in self._steps.values():
            bar.close()

    def _bar(self, desc: str, unit: str):
        return self._tqdm(desc=desc, unit=unit, file=sys.stderr, disable=self._disable, leave=False)

    @contextmanager
    def file(self, path: Path) -> Iterator[Callable[[int], None]]:
        with self._bar(path.name[:40], " rec") as bar:
            yield bar.update

    def _step(self, name: str, unit: str):
        if name not in self._steps:
            self._steps[name] = self._bar(name, unit)
        return self._steps[name]

    def library(self, done: int, total: int) -> None:
        bar = self._step("library index", " spectra")
        bar.total = total
        bar.update(done)

    def embedded(self, count: int) -> None:
        self._step("embed structures", " mol").update(count)
