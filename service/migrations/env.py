"""Alembic environment: runs on the connection handed in by service.db.upgrade (or builds one from the URL)."""
from alembic import context
from service.db import Base, make_engine

config = context.config


def run(connection):
    # render_as_batch: SQLite can only ALTER tables by copying them; batch mode does that for us.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with make_engine(config.get_main_option("sqlalchemy.url")).begin() as conn:
        run(conn)
