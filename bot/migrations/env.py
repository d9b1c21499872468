"""Alembic environment: run migrations on the connection ``Store.upgrade`` hands over.

There is no ``alembic.ini``: the store builds the config in code and passes its open connection
in ``config.attributes["connection"]``, so migrations run in the store's transaction with its SQLite
pragmas. ``alembic -x url=... revision --autogenerate`` works too, for writing new migrations.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bot.store import metadata

config = context.config


def run_migrations(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database with: alembic -x url=sqlite:///var/opastin.sqlite3 ...")
    with create_engine(url).begin() as conn:
        run_migrations(conn)
