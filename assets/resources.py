"""Dagster resources: the registry database (a URL, or the embedded server under a home)."""

import os

from dagster import ConfigurableResource
from sqlalchemy import Engine

from registry.db import get_engine


class RegistryResource(ConfigurableResource):
    """Where the registry lives; empty values fall back to MOLVIS_* environment settings."""

    database_url: str = ""
    home: str = ""

    def setup_for_execution(self, context) -> None:
        if self.database_url:
            os.environ["MOLVIS_DATABASE_URL"] = self.database_url
        if self.home:
            os.environ["MOLVIS_HOME"] = self.home

    def engine(self) -> Engine:
        return get_engine()
