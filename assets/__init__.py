"""Dagster orchestration of molvis and the jobs it shares with the CLI."""
