"""Planting one bug by hand and asking the tests about it: what the SQL mutants and the planted
Python bugs share."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class CannotPlant(ValueError):
    """The text a bug replaces is not in its file exactly once (the code moved on)."""


@contextmanager
def planted(path: Path, before: str, after: str) -> Iterator[None]:
    """`path` with `before` (which must stand in it once) replaced by `after`; restored after."""
    original = path.read_text()
    if original.count(before) != 1:
        raise CannotPlant(f"its text is not in {path.name} once")
    path.write_text(original.replace(before, after))
    try:
        yield
    finally:
        path.write_text(original)


def tests_pass(tests: list[str], env: dict[str, str] | None = None) -> bool:
    """Whether these tests all pass (`-x`: the first failure ends the run)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    return result.returncode == 0
