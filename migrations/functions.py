"""The SQL functions the migrations install, each version in a file of its own:
`migrations/sql/<function>/<revision>.sql`, named for the revision that first installs it. A
migration that changes a function adds a file and executes it; its downgrade executes the
previous version's file. Benchmarks and tests read older versions here too."""

from __future__ import annotations

from pathlib import Path

SQL = Path(__file__).resolve().parent / "sql"


def function_sql(name: str, revision: str) -> str:
    """The `CREATE ... FUNCTION` text of `name` as revision `revision` (e.g. '0018') installs it."""
    path = SQL / name / f"{revision}.sql"
    if not path.is_file():
        known = ", ".join(versions(name)) or "none"
        raise FileNotFoundError(f"no version {revision} of SQL function {name} (known: {known})")
    return path.read_text()


def versions(name: str) -> list[str]:
    """The revisions that install a version of `name`, oldest first."""
    return sorted(p.stem for p in (SQL / name).glob("*.sql"))
