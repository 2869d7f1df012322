"""One PostgreSQL server for a mutation run. mutmut starts a short pytest session per mutant
(two at a time); each would start its own embedded server and migrate it (about 2 s of a 4 s
mutant). Instead this starts one embedded server and migrates its database once; every test
session then works in its own copy of it (`CREATE DATABASE ... TEMPLATE`, tests/conftest.py,
MOLVIS_TEST_TEMPLATE_URL), so sessions running side by side never share tables.

Run: python -m tests.mutation.database start HOME  (prints the template URL)
     python -m tests.mutation.database stop HOME"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import create_engine

from registry.db import embedded, migrate
from registry.db.settings import Settings

# A throwaway server: nothing in it must survive a crash, and copying a database per session
# is disk-bound with fsync on (the cores sat idle at 50 % I/O wait).
THROWAWAY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def start(home: Path) -> str:
    """Start the server under `home`, migrate its registry database; the database's URL."""
    url = embedded.start(Settings(home, None))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")  # ALTER SYSTEM runs alone
    with admin.connect() as conn:
        for name, value in THROWAWAY.items():
            conn.exec_driver_sql(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.exec_driver_sql("SELECT pg_reload_conf()")
    admin.dispose()
    engine = create_engine(url)
    migrate.upgrade(engine=engine)
    engine.dispose()  # a template database must have no connections when it is copied
    return url


def reader_url(home: Path, url: str) -> str:
    """The read-only role's URL on that server, its password set (the tests of the role)."""
    return embedded.reader_url(Settings(home, None), url)


def stop(home: Path) -> None:
    embedded.stop(Settings(home, None))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.mutation.database start|stop HOME", file=sys.stderr)
        return 2
    home = Path(argv[1])
    if argv[0] == "start":
        print(start(home))
    else:
        stop(home)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
