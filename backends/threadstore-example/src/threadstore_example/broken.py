"""A backend module that cannot be imported, like a plugin whose dependency is missing.

Its ``example-broken`` entry point shows what ``open_store("example-broken://x")`` then
reports: a ``BackendNotFoundError`` naming the scheme and the import error.
"""

raise ImportError("threadstore_example.broken needs the 'nonexistent' driver, not installed")
