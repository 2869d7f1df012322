"""Alembic migrations: all DDL of the molvis registry."""
