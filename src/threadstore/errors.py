"""The exceptions every backend raises, under one root: :class:`ThreadStoreError`.

A caller can rely on the class, whatever the backend: a missing thread is always
:class:`ThreadNotFound`, a lost compare-and-set is always :class:`ConflictError`.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "BackendError",
    "BackendNotFoundError",
    "CapabilityError",
    "ConflictError",
    "ConversationNotFound",
    "CorruptDataError",
    "InvalidRequestError",
    "ItemNotFound",
    "MessageNotFound",
    "NotFoundError",
    "RunInTerminalState",
    "RunNotFound",
    "RunStepNotFound",
    "ThreadNotFound",
    "ThreadStoreError",
]


class ThreadStoreError(Exception):
    """Root of every error threadstore raises on purpose."""


class NotFoundError(ThreadStoreError, LookupError):
    """The object named by the call does not exist."""

    kind = "object"

    def __init__(self, object_id: str, message: str | None = None) -> None:
        self.id = object_id
        super().__init__(message or f"{self.kind} {object_id!r} not found")


class ThreadNotFound(NotFoundError):
    kind = "thread"


class MessageNotFound(NotFoundError):
    kind = "message"


class RunNotFound(NotFoundError):
    kind = "run"


class RunStepNotFound(NotFoundError):
    kind = "run step"


class ConversationNotFound(NotFoundError):
    kind = "conversation"


class ItemNotFound(NotFoundError):
    kind = "item"


class AlreadyExistsError(ThreadStoreError):
    """A create named an ID that is already taken; nothing was overwritten."""


class ConflictError(ThreadStoreError):
    """The object changed under the caller: a compare-and-set (``expected=``) lost."""


class RunInTerminalState(ConflictError):
    """The run has finished; only ``force_update_run_status`` may change its status."""


class InvalidRequestError(ThreadStoreError, ValueError):
    """The input breaks a rule (an unsafe ID, a metadata limit, an unknown cursor...)."""


class CapabilityError(InvalidRequestError):
    """The backend lacks a capability the caller required with ``require=``."""


class BackendNotFoundError(ThreadStoreError, LookupError):
    """No installed backend serves the URL's scheme, or the backend failed to load."""


class BackendError(ThreadStoreError):
    """The storage itself failed (I/O error, unreachable service, refused credentials)."""


class CorruptDataError(BackendError):
    """Stored data does not parse; the message names where it lies."""
