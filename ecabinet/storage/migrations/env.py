"""Alembic environment: the engine comes from the caller (see ecabinet.storage.migrate)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import ecabinet.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
engine = config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    if sqlite:
        # SQLite changes a table by rebuilding it (batch mode: copy, drop, rename), and dropping
        # a table that others reference fails, or deletes their rows, while foreign keys are
        # enforced. The pragma is ignored inside a transaction, so it is set before one begins;
        # the links are checked once the migrations are done, before the commit.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left rows with broken links: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
