#!/bin/sh
# Run once by the pgvector image when it creates its data directory: Dagster's run, event and
# schedule storage in a database of its own (its tables and Alembic history beside molvis's in
# one database stop both the webserver and the daemon at start).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "CREATE DATABASE dagster OWNER \"$POSTGRES_USER\""
