"""Keep credentials out of the log records of the libraries this backend drives.

At DEBUG, botocore logs every request it sends with its headers: the access key ID (in
``Authorization``) and the session token (``X-Amz-Security-Token``, also in the
canonical request that ``botocore.auth`` logs). threadstore promises that no log line
shows a credential given in a URL or as an option, so each store registers the values
it was given with one shared filter, attached to the loggers of botocore, aiobotocore,
s3fs, fsspec, aiohttp and urllib3. The filter rewrites a record that contains one of
them, and its traceback text, as :class:`threadstore.masking.Masker` masks them; other
records pass untouched.
"""

from __future__ import annotations

import logging

from threadstore.masking import Masker

__all__ = ["LIBRARIES", "hide_in_library_logs"]

LIBRARIES = ("botocore", "aiobotocore", "s3fs", "fsspec", "aiohttp", "urllib3")
_SHORTEST = 4
"""Values shorter than this are not credentials worth masking (and would mangle logs)."""


class _Redactor(logging.Filter):
    """Masks every registered secret value in a record's message and traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets = Masker(shortest=_SHORTEST)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is not ours to fix
            return True
        hidden = self.secrets.mask(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.secrets.mask(record.exc_text)
        return True


_REDACTOR = _Redactor()


def hide_in_library_logs(*values: str | None) -> None:
    """Mask ``values`` in every record the driven libraries' loggers emit from now on."""
    if not any(value and len(value) >= _SHORTEST for value in values):
        return
    _REDACTOR.secrets.add(values)
    for name in list(logging.root.manager.loggerDict):
        if name.split(".", 1)[0] in LIBRARIES:
            logger = logging.getLogger(name)
            if _REDACTOR not in logger.filters:
                logger.addFilter(_REDACTOR)
