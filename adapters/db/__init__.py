"""The PostgreSQL/SQLite store: schema, migrations, unit of work and read queries."""
