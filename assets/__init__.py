"""Dagster orchestration of molvis (`dagster dev -m assets`) and the jobs it shares with the CLI."""

from assets.definitions import defs

__all__ = ["defs"]
