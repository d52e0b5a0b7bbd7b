"""threadstore's object-storage backend: ``s3://bucket/prefix`` shared by many hosts.

Installed, it serves ``s3://``, ``s3a://`` and ``fsspec+s3://`` through the
``threadstore.backends`` entry points; ``open_store("s3://bucket/prefix")`` finds it.
"""

from threadstore_fsspec.store import FsspecOptions, FsspecThreadStore, Measurement

__all__ = ["FsspecOptions", "FsspecThreadStore", "Measurement"]
