"""A worked example of a threadstore backend plugin: ``example:///path``.

Installed, it serves ``example://`` through its ``threadstore.backends`` entry point;
``open_store("example:///var/lib/threads")`` finds it without importing it first.
"""

from threadstore_example.jsondir import JsonDirThreadStore

__all__ = ["JsonDirThreadStore"]
