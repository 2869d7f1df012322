"""Dagster resources: the registry database (a URL, or the embedded server under a home)."""

from dataclasses import replace
from pathlib import Path

from dagster import ConfigurableResource
from sqlalchemy import Engine

from registry.db.connection import get_engine
from registry.db.settings import Settings, load_settings


class RegistryResource(ConfigurableResource):
    """Where the registry lives; empty values fall back to MOLVIS_* environment settings. The
    assets take their engine from here and hand it to the workflows."""

    database_url: str = ""
    home: str = ""

    def settings(self) -> Settings:
        settings = load_settings()
        if self.home:
            settings = replace(settings, home=Path(self.home).expanduser().resolve())
        if self.database_url:
            settings = replace(settings, database_url=self.database_url)
        return settings

    def engine(self) -> Engine:
        return get_engine(self.settings())
