"""Dagster orchestration of molvis: thin assets over registry/ and molvis.workflows.
The Definitions live in assets/definitions.py (`dagster dev -m assets.definitions`); importing
this package builds nothing."""
