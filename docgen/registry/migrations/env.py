"""Alembic environment: runs migrations on the connection ``docgen.registry.db.migrate`` (or a
test) hands over in the configuration's attributes."""

from alembic import context
from sqlalchemy import Connection

from docgen.registry.models import Base

connection = context.config.attributes.get("connection")
assert isinstance(connection, Connection), "run migrations through docgen.registry.db"
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
