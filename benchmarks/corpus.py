"""The messages every contender stores: the same models, of a typical size.

A chat message is a few hundred bytes of text; with the ``thread.message`` envelope its
wire JSON is about 1 KB (user and assistant turns alternate). Every contender gets the
same Message objects, so differences come from storage, not from the data.
"""

from __future__ import annotations

from threadstore.models import Message

__all__ = ["BODY_CHARS", "Corpus"]

BODY_CHARS = 800
_WORDS = "the quick brown fox jumps over a lazy dog while threads keep every turn in order "


def _body(index: int) -> str:
    text = f"turn {index}: " + _WORDS * (BODY_CHARS // len(_WORDS) + 1)
    return text[:BODY_CHARS]


def _message(index: int) -> Message:
    make = Message.user if index % 2 == 0 else Message.assistant
    return make(_body(index))


class Corpus:
    """Prebuilt messages: a shared prefix for fixtures, fresh ones for timed appends."""

    def __init__(self) -> None:
        self._shared: list[Message] = []

    def prefix(self, count: int) -> list[Message]:
        """The first ``count`` fixture messages (the same objects on every call)."""
        while len(self._shared) < count:
            self._shared.append(_message(len(self._shared)))
        return self._shared[:count]

    @staticmethod
    def fresh(count: int) -> list[Message]:
        """``count`` new messages with IDs never used before (for appends)."""
        return [_message(index) for index in range(count)]
