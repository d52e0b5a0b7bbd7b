"""A scripted conversation that shows the API at work, as a server would drive it.

``threadstore demo`` plays it and prints each event. No model and no network: the
assistant's replies are written into the script. Each turn is what an Assistants
server does for one user message: append it, create a run (``queued``), claim it with
a compare-and-set (``in_progress``), write the reply through a ``message_creation``
step, then complete step and run. The demo ends with the thread's messages read back
page by page.

    >>> from threadstore import open_store
    >>> events = list(play(open_store("memory://")))
    >>> [event.action for event in events][:4]
    ['thread', 'message', 'run', 'run']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from threadstore.models import (
    Message,
    MessageStatus,
    Page,
    Run,
    RunStatus,
    RunStep,
    RunStepStatus,
    Thread,
    Usage,
    now,
)
from threadstore.protocol import ThreadStore

__all__ = ["ASSISTANT_ID", "PAGE_SIZE", "SCRIPT", "DemoEvent", "play"]

ASSISTANT_ID = "asst_demo"
MODEL = "scripted-demo"
PAGE_SIZE = 3
SCRIPT = (
    (
        "What does threadstore keep for me?",
        "Threads, their messages, and the runs that answered them, step by step, in the "
        "exact shape of the Assistants API.",
    ),
    (
        "And if my server restarts?",
        "Everything acknowledged is still there; open the same URL and carry on.",
    ),
)


@dataclass(frozen=True)
class DemoEvent:
    """One thing the demo did: ``action`` names the kind (``thread``, ``message``,
    ``run``, ``step``, ``page``) and ``record`` is the object as the store returned it."""

    action: str
    record: Thread | Message | Run | RunStep | Page[Message]


def play(store: ThreadStore) -> Iterator[DemoEvent]:
    """Play :data:`SCRIPT` into a new thread of ``store``, yielding each event."""
    thread = store.create_thread(Thread(metadata={"source": "threadstore demo"}))
    yield DemoEvent("thread", thread)
    for question, answer in SCRIPT:
        yield from _turn(store, thread.id, question, answer)
    page = store.list_messages(thread.id, limit=PAGE_SIZE, order="asc")
    yield DemoEvent("page", page)
    while page.has_more:
        page = store.list_messages(thread.id, limit=PAGE_SIZE, order="asc", after=page.last_id)
        yield DemoEvent("page", page)


def _turn(store: ThreadStore, thread_id: str, question: str, answer: str) -> Iterator[DemoEvent]:
    yield DemoEvent("message", store.append_message(thread_id, Message.user(question)))
    run = store.create_run(
        thread_id,
        Run(assistant_id=ASSISTANT_ID, model=MODEL, instructions="Answer from the script."),
    )
    yield DemoEvent("run", run)
    yield DemoEvent(
        "run",
        store.update_run_status(thread_id, run.id, RunStatus.IN_PROGRESS, expected="queued"),
    )
    reply = store.append_message(
        thread_id,
        Message.assistant(
            "", status=MessageStatus.IN_PROGRESS, assistant_id=ASSISTANT_ID, run_id=run.id
        ),
    )
    step = store.append_step(
        thread_id,
        run.id,
        RunStep.model_validate(
            {
                "step_details": {
                    "type": "message_creation",
                    "message_creation": {"message_id": reply.id},
                }
            }
        ),
    )
    yield DemoEvent("step", step)
    reply = store.update_message(
        thread_id, reply.id, content=answer, status=MessageStatus.COMPLETED, completed_at=now()
    )
    yield DemoEvent("message", reply)
    yield DemoEvent(
        "step", store.update_step_status(thread_id, run.id, step.id, RunStepStatus.COMPLETED)
    )
    prompt, completion = len(question.split()), len(answer.split())
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    store.update_run(thread_id, run.id, usage=usage)
    yield DemoEvent(
        "run",
        store.update_run_status(
            thread_id, run.id, RunStatus.COMPLETED, expected=RunStatus.IN_PROGRESS
        ),
    )
