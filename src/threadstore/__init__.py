"""threadstore: OpenAI-Assistants-style threads, messages, runs and run steps, and
Responses-era conversations and items, stored behind one protocol with interchangeable
backends chosen by URL.

    >>> from threadstore import open_store, Message
    >>> store = open_store("memory://")
    >>> thread = store.create_thread()
    >>> store.append_message(thread.id, Message.user("hello")).text
    'hello'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "open_store": "threadstore.registry",
    "available_backends": "threadstore.registry",
    "register_backend": "threadstore.registry",
    "unregister_backend": "threadstore.registry",
    "ThreadStore": "threadstore.protocol",
    "Capability": "threadstore.protocol",
    "UNSET": "threadstore.protocol",
    "BaseThreadStore": "threadstore.base",
    "StoreURL": "threadstore.url",
    "Thread": "threadstore.models",
    "Message": "threadstore.models",
    "Run": "threadstore.models",
    "RunStep": "threadstore.models",
    "Page": "threadstore.models",
    "RunStatus": "threadstore.models",
    "RunStepStatus": "threadstore.models",
    "MessageStatus": "threadstore.models",
    "LastError": "threadstore.models",
    "RunError": "threadstore.models",
    "ThreadDeleted": "threadstore.models",
    "MessageDeleted": "threadstore.models",
    "Conversation": "threadstore.models",
    "ConversationItem": "threadstore.models",
    "ConversationDeleted": "threadstore.models",
}

__all__ = [
    "UNSET",
    "BaseThreadStore",
    "Capability",
    "Conversation",
    "ConversationDeleted",
    "ConversationItem",
    "LastError",
    "Message",
    "MessageDeleted",
    "MessageStatus",
    "Page",
    "Run",
    "RunError",
    "RunStatus",
    "RunStep",
    "RunStepStatus",
    "StoreURL",
    "Thread",
    "ThreadDeleted",
    "ThreadStore",
    "__version__",
    "available_backends",
    "open_store",
    "register_backend",
    "unregister_backend",
]

if TYPE_CHECKING:
    from threadstore.base import BaseThreadStore
    from threadstore.models import (
        Conversation,
        ConversationDeleted,
        ConversationItem,
        LastError,
        Message,
        MessageDeleted,
        MessageStatus,
        Page,
        Run,
        RunError,
        RunStatus,
        RunStep,
        RunStepStatus,
        Thread,
        ThreadDeleted,
    )
    from threadstore.protocol import UNSET, Capability, ThreadStore
    from threadstore.registry import (
        available_backends,
        open_store,
        register_backend,
        unregister_backend,
    )
    from threadstore.url import StoreURL


def __getattr__(name: str) -> Any:
    """Import public names on first use, so ``import threadstore`` stays cheap."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'threadstore' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
