"""The evidence store: records, registries, relations and clusters (SQLAlchemy Core).

SQLite by default, PostgreSQL in production; the schema is owned by Alembic migrations
(:func:`upgrade`). :class:`Store` is the only place that writes SQL.
"""

from forensics.store.db import Store, connect, upgrade

__all__ = ["Store", "connect", "upgrade"]
