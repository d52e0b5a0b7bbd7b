"""``file://``: the local-disk backend, a package of its parts.

``store`` (the backend), ``journal`` (a log and its index, locked and recovered
together), ``log`` (the line format), ``index`` (the hash index), ``entries`` (records in
journals, checked against the log), ``layout`` (where things live), ``files`` (POSIX
recipes), ``check`` (``check_storage``) and ``upgrade`` (stores of format 1).
"""

from threadstore.backends.local.layout import FORMAT, FORMAT_VERSION
from threadstore.backends.local.store import LocalOptions, LocalThreadStore

__all__ = ["FORMAT", "FORMAT_VERSION", "LocalOptions", "LocalThreadStore"]
