"""threadstore's object-storage backend: ``s3://bucket/prefix`` shared by many hosts.

Installed, it serves ``s3://`` and ``s3a://`` through the ``threadstore.backends`` entry
points; ``open_store("s3://bucket/prefix")`` finds it.
"""

from threadstore_fsspec.chunks import CHUNK_RECORDS
from threadstore_fsspec.options import FsspecOptions
from threadstore_fsspec.rounds import Measurement
from threadstore_fsspec.store import FsspecThreadStore

__all__ = ["CHUNK_RECORDS", "FsspecOptions", "FsspecThreadStore", "Measurement"]
