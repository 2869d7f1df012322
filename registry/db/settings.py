"""Runtime settings read from the environment (MOLVIS_DATABASE_URL, MOLVIS_HOME)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Where molvis keeps its data and which PostgreSQL it talks to."""

    home: Path
    database_url: str | None
    reader_url: str | None = None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"


def load_settings() -> Settings:
    """Settings from the environment; no URL means the embedded server under MOLVIS_HOME."""
    home = Path(os.environ.get("MOLVIS_HOME", ".molvis")).expanduser().resolve()
    url = os.environ.get("MOLVIS_DATABASE_URL") or None
    reader = os.environ.get("MOLVIS_READER_URL") or None
    return Settings(home=home, database_url=url, reader_url=reader)
