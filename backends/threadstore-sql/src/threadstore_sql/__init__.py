"""SQL backends for threadstore: ``postgresql://`` and ``sqlite://``, one SQL layer.

The entry points name :class:`PostgresThreadStore` and :class:`SqliteThreadStore`;
``threadstore.open_store(url)`` finds them by scheme, so importing this package is
never needed to use them.
"""

from threadstore_sql.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION"]
