"""Alembic environment. Run through ``paperboy.store.migrate`` (or ``paperboy db upgrade``)."""

from alembic import context

from paperboy.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called with a connection by paperboy
    raise RuntimeError("run migrations through `paperboy db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
