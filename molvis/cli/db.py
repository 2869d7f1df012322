"""`molvis db` (upgrade, downgrade, url, stop, reader-password, backup, restore) and
`molvis stats`."""

from __future__ import annotations

import argparse
import json

from molvis.cli.common import CliError, engine, require_schema


def cmd_db(args: argparse.Namespace) -> int:
    from registry.db import migrate
    from registry.db.connection import database_url, libpq_url, stop_embedded

    if args.action == "url":
        print(libpq_url(database_url()))
    elif args.action == "upgrade":
        migrate.upgrade(args.revision or "head")
        print(f"database at revision {migrate.current_revision()}")
    elif args.action == "downgrade":
        migrate.downgrade(args.revision or "base")
        print(f"database at revision {migrate.current_revision() or 'base (empty)'}")
    elif args.action == "stop":
        print("embedded server stopped" if stop_embedded() else "no embedded server running")
    elif args.action == "reader-password":
        if not args.revision:
            raise CliError("give the password: molvis db reader-password SECRET")
        from registry.db.connection import READER_ROLE, session_scope, set_role_password

        with session_scope(engine()) as session:
            set_role_password(session, READER_ROLE, args.revision)
        print(f"password set for {READER_ROLE}")
    elif args.action in ("backup", "restore"):
        return _backup_or_restore(args.action, args.revision)
    return 0


def _backup_or_restore(action: str, file: str | None) -> int:
    """`molvis db backup FILE`: the registry as one pg_dump file. `molvis db restore FILE`:
    into a database without a registry, then upgraded to this molvis's schema; the old
    library index under MOLVIS_HOME (another registry's) is removed, the next search rebuilds
    it."""
    import shutil
    from pathlib import Path

    from registry.db import backup, migrate
    from registry.db.connection import database_url
    from registry.db.settings import load_settings
    from registry.library.saved_index import library_dir

    if not file:
        raise CliError(f"give the file: molvis db {action} FILE")
    path = Path(file)
    try:
        if action == "backup":
            require_schema()
            size = backup.backup(database_url(), path)
            print(
                f"registry at revision {migrate.current_revision()} written to {path} "
                f"({size:,} bytes, readable by you only); models you trained into "
                "MOLVIS_HOME/models are not in it: copy them beside it"
            )
            return 0
        revision = migrate.current_revision()
        if revision is not None:
            raise CliError(
                f"the database already holds a registry (revision {revision}): restore into an "
                "empty database (MOLVIS_DATABASE_URL, or a new MOLVIS_HOME)"
            )
        backup.restore(database_url(), path)
    except backup.BackupError as exc:
        raise CliError(f"{path}: {exc}") from None
    shutil.rmtree(library_dir(load_settings().home), ignore_errors=True)
    migrate.upgrade("head")
    print(
        f"{path} restored; database at revision {migrate.current_revision()}; the library "
        "index is rebuilt by the first search (or molvis library build)"
    )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from registry.db.connection import session_scope
    from registry.read.stats import registry_stats

    require_schema()
    with session_scope(engine()) as session:
        stats = registry_stats(session)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="molvis registry")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in stats.items():
        if key != "per_source":
            table.add_row(key.replace("_", " "), f"{value:,}")
    console = Console()
    console.print(table)
    if stats["per_source"]:
        per = Table(title="per source")
        for col in ("name", "msms_spectra", "ir_spectra", "ccs_values", "rejected_records"):
            per.add_column(col.replace("_", " "), justify="left" if col == "name" else "right")
        for row in stats["per_source"]:
            per.add_row(row["name"], *(f"{row[c]:,}" for c in list(row)[1:]))
        console.print(per)
    return 0


def add_parsers(sub) -> None:
    db = sub.add_parser(
        "db", help="database: upgrade, downgrade, url, stop, reader-password, backup, restore"
    )
    db.add_argument(
        "action",
        choices=["upgrade", "downgrade", "url", "stop", "reader-password", "backup", "restore"],
    )
    db.add_argument(
        "revision",
        nargs="?",
        help="target revision (default head / base); the password for reader-password; the "
        "file for backup and restore",
    )
    db.set_defaults(func=cmd_db)

    stats = sub.add_parser("stats", help="registry counts")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)
