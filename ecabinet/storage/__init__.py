"""Persistence: SQLModel tables, the database wrapper, migrations and the blob store."""
