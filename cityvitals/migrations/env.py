"""Alembic environment: migrate the connection ``cityvitals.migrate`` hands over (never a URL of its own).

The connection's ``schema_translate_map`` (a private PostgreSQL schema, as the tests use) is honoured:
the migrations create unqualified tables, which the map places, and the version table goes there too.
Reflection does not see through the map, so autogenerate compares against the models placed in
that schema, and looks at no other. The models are those registered on ``Base`` by the caller: an
upgrade needs none, ``cityvitals db check|revision`` registers them all (``wiring/sql_tables.py``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from cityvitals.db import Base
from cityvitals.migrate import placed_schema


def models_in(schema: str | None) -> MetaData:
    """The models as they stand in ``schema`` (None: the connection's default schema)."""
    if schema is None:
        return Base.metadata
    # the default index names would take the schema in (ix_<schema>_<table>_<column>): keep them as in the models
    placed = MetaData(naming_convention={"ix": "ix_%(table_name)s_%(column_0_name)s"})
    for table in Base.metadata.tables.values():
        table.to_metadata(placed, schema=schema)
    return placed


connection = context.config.attributes["connection"]
schema = placed_schema(connection)
context.configure(
    connection=connection, target_metadata=models_in(schema), version_table_schema=schema,
    include_schemas=schema is not None,
    include_name=lambda name, kind, _parent: kind != "schema" or name == schema,
    render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
