"""The database: connection (a URL or the embedded server), settings, the typed tables, migrations, bulk COPY and the index drop/rebuild around big loads."""
