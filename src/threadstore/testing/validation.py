"""``ValidationTests``: what a store refuses, and that a refusal stores nothing.

Hostile IDs (path tricks, separators, control characters, look-alike letters, huge
strings) are refused by every operation that takes an ID; metadata past its limits
(16 keys, 64-character keys, 512-character values) is refused and metadata at them
accepted; a model changed after validation and a model of the wrong type are refused.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from threadstore.errors import InvalidRequestError
from threadstore.models import Run, Thread
from threadstore.protocol import ThreadStore
from threadstore.testing.fixtures import ConformanceFixtures, step_for, text_message

__all__ = ["ValidationTests"]

HOSTILE_IDS = [
    "../x",
    "..",
    ".",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "a\x00b",
    "",
    " a",
    "a b",
    "a\nb",
    "x" * 10_000,
    "thread_\u0430",  # Cyrillic a: looks Latin, is not
    "C:\\x",
    "-rf",
]


class ValidationTests(ConformanceFixtures):
    """Validation: hostile IDs, metadata limits, tampered and mistyped models."""

    @pytest.mark.parametrize("bad_id", HOSTILE_IDS)
    def test_hostile_ids_are_refused_everywhere(
        self, store: ThreadStore, thread: Thread, bad_id: str
    ) -> None:
        run = store.create_run(thread.id, Run(assistant_id="asst_1"))
        calls: list[Callable[[], object]] = [
            lambda: store.get_thread(bad_id),
            lambda: store.update_thread(bad_id, metadata={}),
            lambda: store.delete_thread(bad_id),
            lambda: store.append_message(bad_id, text_message("x")),
            lambda: store.get_message(thread.id, bad_id),
            lambda: store.delete_message(thread.id, bad_id),
            lambda: store.list_messages(thread.id, after=bad_id),
            lambda: store.list_messages(thread.id, run_id=bad_id),
            lambda: store.get_run(thread.id, bad_id),
            lambda: store.create_run(bad_id, Run(assistant_id="asst_1")),
            lambda: store.update_run_status(thread.id, bad_id, "in_progress"),
            lambda: store.append_step(thread.id, bad_id, step_for("msg_1")),
            lambda: store.get_step(thread.id, run.id, bad_id),
            lambda: store.list_steps(bad_id, run.id),
        ]
        for call in calls:
            with pytest.raises(InvalidRequestError):
                call()
        assert store.list_thread_ids() == [thread.id]
        assert store.list_runs(thread.id).data == [run]

    @pytest.mark.parametrize(
        "metadata",
        [
            {f"k{i}": "v" for i in range(17)},
            {"k" * 65: "v"},
            {"k": "v" * 513},
        ],
    )
    def test_metadata_limits(
        self, store: ThreadStore, thread: Thread, metadata: dict[str, str]
    ) -> None:
        message = store.append_message(thread.id, text_message("x"))
        with pytest.raises(InvalidRequestError):
            store.update_thread(thread.id, metadata=metadata)
        with pytest.raises(InvalidRequestError):
            store.update_message(thread.id, message.id, metadata=metadata)
        assert store.get_thread(thread.id) == thread
        assert store.get_message(thread.id, message.id) == message

    def test_metadata_at_the_limits_is_accepted(self, store: ThreadStore, thread: Thread) -> None:
        metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
        assert store.update_thread(thread.id, metadata=metadata).metadata == metadata
        assert store.get_thread(thread.id).metadata == metadata

    def test_invalid_model_changed_after_construction(
        self, store: ThreadStore, thread: Thread
    ) -> None:
        message = text_message("x")
        object.__setattr__(message, "metadata", {"k": "v" * 600})  # bypasses validation
        with pytest.raises(InvalidRequestError):
            store.append_message(thread.id, message)
        assert store.list_messages(thread.id).data == []

    def test_wrong_model_type(self, store: ThreadStore, thread: Thread) -> None:
        with pytest.raises(InvalidRequestError):
            store.append_message(thread.id, Run(assistant_id="asst_1"))  # type: ignore[arg-type]
