"""Object IDs: how they are made and which ones a store accepts.

Generated IDs are ``<prefix>_`` plus 26 characters: 10 encode the creation time in
milliseconds and 16 are random, so IDs made later sort later (within one process,
strictly). A caller may bring its own ID; it must match :data:`ID_PATTERN`, which keeps
every ID a plain, portable file or key name: no ``/``, ``\\``, ``.``, NUL or spaces.
"""

from __future__ import annotations

import re
import secrets
import threading
import time

from threadstore.errors import InvalidRequestError

__all__ = ["ID_MAX_LENGTH", "ID_PATTERN", "check_id", "new_id"]

ID_MAX_LENGTH = 64
ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{ID_MAX_LENGTH - 1}}}")

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last = (0, 0)


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return a fresh ID such as ``msg_01j9...``, sortable by creation time."""
    global _last
    millis = time.time_ns() // 1_000_000
    with _lock:
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, random = last_millis, last_random + 1
        else:
            random = secrets.randbits(_RANDOM_BITS - 1)
        _last = (millis, random)
    return f"{prefix}_{_encode(millis, 10)}{_encode(random, 16)}"


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a safe ID, else raise :class:`InvalidRequestError`."""
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        shown = repr(value) if isinstance(value, str) and len(value) <= 80 else "the value"
        raise InvalidRequestError(
            f"invalid {what}: {shown}; an ID is 1 to {ID_MAX_LENGTH} letters, digits, "
            "'_' or '-', starting with a letter or digit"
        )
    return value
