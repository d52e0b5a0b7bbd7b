"""Keep credentials out of the log records of the libraries this backend drives.

At DEBUG, botocore logs every request it sends with its headers: the access key ID (in
``Authorization``) and the session token (``X-Amz-Security-Token``, also in the
canonical request that ``botocore.auth`` logs). threadstore promises that no log line
shows a credential given in a URL or as an option, so each store registers the values
it was given with one shared filter, attached to the loggers of botocore, aiobotocore,
s3fs, fsspec, aiohttp and urllib3. The filter rewrites a record that contains one of
them, and its traceback text, with ``***`` in its place; other records pass untouched.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["LIBRARIES", "hide_in_library_logs"]

LIBRARIES = ("botocore", "aiobotocore", "s3fs", "fsspec", "aiohttp", "urllib3")
_MASK = "***"
_SHORTEST = 4
"""Values shorter than this are not credentials worth masking (and would mangle logs)."""


class _Redactor(logging.Filter):
    """Replaces every registered secret value in a record's message and traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()
        self.lock = threading.Lock()

    def add(self, values: set[str]) -> None:
        with self.lock:
            self.secrets = tuple(sorted(set(self.secrets) | values, key=len, reverse=True))

    def _hide(self, text: str) -> str:
        for value in self.secrets:
            text = text.replace(value, _MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is not ours to fix
            return True
        hidden = self._hide(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._hide(record.exc_text)
        return True


_REDACTOR = _Redactor()


def hide_in_library_logs(*values: str | None) -> None:
    """Mask ``values`` in every record the driven libraries' loggers emit from now on."""
    secrets = {value for value in values if value and len(value) >= _SHORTEST}
    if not secrets:
        return
    _REDACTOR.add(secrets)
    for name in list(logging.root.manager.loggerDict):
        if name.split(".", 1)[0] in LIBRARIES:
            logger = logging.getLogger(name)
            if _REDACTOR not in logger.filters:
                logger.addFilter(_REDACTOR)
