"""Secrets: which option names hold credentials, and how a credential is hidden in text.

The one home of both rules. :class:`~threadstore.url.StoreURL` renders its password
and secret options through it, the command line masks error messages with it, and a
backend masks its libraries' log records with it (``threadstore_fsspec.redact``).

    >>> masker = Masker()
    >>> masker.add({"hunter2"})
    >>> masker.mask("login failed for hunter2")
    'login failed for ***'
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["MASK", "SECRET_OPTIONS", "Masker", "is_secret"]

MASK = "***"
"""What a secret is shown as."""

SECRET_OPTIONS = frozenset(
    {
        "secret",
        "password",
        "token",
        "key",
        "access_key",
        "secret_key",
        "session_token",
        "aws_secret_access_key",
        "aws_session_token",
        "account_key",
        "sas_token",
        "credentials",
        "client_secret",
    }
)
_SECRET_SUFFIXES = ("secret", "password", "token", "_key")


def is_secret(name: str) -> bool:
    """Whether an option of this name holds a credential and must never be shown."""
    lowered = name.lower()
    return lowered in SECRET_OPTIONS or lowered.endswith(_SECRET_SUFFIXES)


class Masker:
    """A set of secret values, each replaced by :data:`MASK` wherever it shows in a text.

    Values shorter than ``shortest`` are ignored: masking every ``a`` of a log would
    hide nothing worth hiding and mangle the rest. Safe to share between threads.
    """

    def __init__(self, *, shortest: int = 1) -> None:
        self.shortest = shortest
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._values)

    def add(self, values: Iterable[str | None]) -> None:
        """Mask these values from now on (``None`` and short values are skipped)."""
        wanted = {value for value in values if value and len(value) >= self.shortest}
        with self._lock:
            # Longest first, so a secret that contains another is hidden whole.
            self._values = tuple(sorted(set(self._values) | wanted, key=len, reverse=True))

    def mask(self, text: str) -> str:
        """``text`` with every known secret replaced by :data:`MASK`."""
        for value in self._values:
            text = text.replace(value, MASK)
        return text
