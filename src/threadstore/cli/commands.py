"""The commands of ``threadstore``, declared with click; each returns its exit code.

Library modules are imported inside the command that uses them, and printing for
people lives in :mod:`threadstore.cli.render` (rich), also imported on first use.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from threadstore import __version__
from threadstore.cli import (
    EXIT_BACKEND,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from threadstore.errors import (
    BackendError,
    BackendNotFoundError,
    InvalidRequestError,
    NotFoundError,
    ThreadStoreError,
)
from threadstore.masking import Masker

if TYPE_CHECKING:
    from threadstore.migrate import CopyEvent
    from threadstore.models import Conversation, ConversationItem, Message, Run, RunStep, Thread
    from threadstore.protocol import Order, ThreadStore
    from threadstore.snapshot import Slice

__all__ = ["app", "run"]

DEMO_LOCATION = "threadstore-demo"
F = TypeVar("F", bound=Callable[..., Any])


_secrets = Masker()
"""Secret values from the URLs on the command line, masked in every error printed.

Output shows URLs through ``StoreURL.render()``, which hides them already; this also
covers an error message from a backend that quotes what it was given.
"""


def _exit_code(error: ThreadStoreError) -> int:
    if isinstance(error, InvalidRequestError | BackendNotFoundError):
        return EXIT_USAGE
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND
    return EXIT_BACKEND


def _fail(error: BaseException, code: int) -> int:
    """Print the error as one line on stderr, secrets masked, and return ``code``."""
    message = " ".join(str(error).split()) or type(error).__name__
    click.echo(f"Error: {_secrets.mask(message)}", err=True)
    return code


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line and return its exit code (see :mod:`threadstore.cli`)."""
    try:
        result = app.main(
            args=list(argv) if argv is not None else None,
            prog_name="threadstore",
            standalone_mode=False,
        )
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except ThreadStoreError as error:
        return _fail(error, _exit_code(error))
    except OSError as error:
        return _fail(error, EXIT_BACKEND)
    return result if isinstance(result, int) else EXIT_OK


@contextmanager
def _opened(
    url: str, *, create: bool = False, empty_if_missing: bool = False
) -> Iterator[tuple[ThreadStore, str]]:
    """Open the store at ``url``; yields it with its URL as safe to print.

    Opening a local directory makes a store there, so unless ``create`` is set, a
    missing one is an error (reads must not leave stores behind) or, with
    ``empty_if_missing``, an empty in-memory stand-in.
    """
    from threadstore.registry import open_store
    from threadstore.url import StoreURL

    parsed = StoreURL.parse(url)
    _secrets.add(parsed.secrets)
    shown = parsed.render()
    if parsed.scheme == "file":
        _refuse_a_file(parsed.path, shown)
        if not create and not os.path.isdir(parsed.path):
            if not empty_if_missing:
                missing = f"no store at {shown}: {parsed.path} does not exist"
                raise NotFoundError(parsed.path, missing)
            parsed = StoreURL.parse("memory://")
    with open_store(parsed) as store:
        yield store, shown


@contextmanager
def _ctrl_c_remembered() -> Iterator[Callable[[], None]]:
    """Ctrl-C raises ``KeyboardInterrupt`` at once, as usual, and is also remembered:
    Python drops an exception raised while a finalizer runs (a generator the collector
    closes), so the long loop calls what this yields after each step, which raises it
    again. In a thread other than the main one, or when SIGINT is not Python's default,
    nothing changes."""
    pressed = False

    def again() -> None:
        if pressed:
            raise KeyboardInterrupt

    def on_ctrl_c(signum: int, frame: object) -> None:
        nonlocal pressed
        pressed = True
        raise KeyboardInterrupt

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield again
        return
    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield again
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _refuse_a_file(path: str, shown: str) -> None:
    """A local store is a directory: refuse a path that is, or lies below, a file."""
    place = path
    while not os.path.lexists(place) and os.path.dirname(place) != place:
        place = os.path.dirname(place)
    if os.path.exists(place) and not os.path.isdir(place):
        raise BackendError(
            f"no store at {shown}: {place} is a file; expected a directory holding a "
            "threadstore, or a path that does not exist yet to make one"
        )


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _json_option(command: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON, for programs."
    )(command)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="threadstore")
def app() -> None:
    """Threads, messages, runs and run steps, and conversations with their items, stored
    behind one URL.

    A URL names a store: memory://, file:///path (or a plain path), s3://bucket/prefix,
    or any scheme an installed backend serves (see `threadstore backends`).

    Exit codes: 0 ok, 1 problems found (verify findings, copy conflicts), 2 usage or bad
    input, 3 not found, 4 the storage failed, 130 interrupted.
    """


@app.command()
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help=f"Where to play the conversation [default: ./{DEMO_LOCATION}, a local-disk store].",
)
def demo(store_url: str | None) -> int:
    """Play a scripted conversation into a store and show what was stored.

    Creates a thread, user and assistant messages, and runs that go queued ->
    in_progress -> completed through a message_creation step, then reads the messages
    back page by page. No network and no model needed.
    """
    from threadstore.cli import render
    from threadstore.demo import play
    from threadstore.protocol import Capability
    from threadstore.url import StoreURL

    argument = store_url or DEMO_LOCATION
    with _opened(argument, create=True) as (store, shown):
        render.demo_start(shown)
        thread_id = ""
        for event in play(store):
            thread_id = thread_id or getattr(event.record, "id", "")
            render.demo_event(event)
        kept = Capability.PERSISTENT in store.capabilities
    parsed = StoreURL.parse(argument)
    render.demo_end(
        parsed.path if parsed.scheme == "file" else shown,
        argument if store_url is None else shown,
        thread_id,
        kept=kept,
    )
    return EXIT_OK


@app.command()
@_json_option
def backends(as_json: bool) -> int:
    """List the installed backends: scheme, distribution, version, capabilities.

    A backend that fails to load is listed with its error.
    """
    rows = _installed_backends()
    if as_json:
        _print_json(rows)
    else:
        from threadstore.cli import render

        render.backends(rows)
    return EXIT_OK


def _installed_backends() -> list[dict[str, Any]]:
    """One row per entry point of the backends group, loading each to read its capabilities."""
    from importlib.metadata import entry_points

    from threadstore.registry import GROUP

    rows = []
    for entry in sorted(entry_points(group=GROUP), key=lambda ep: (ep.name, ep.value)):
        row: dict[str, Any] = {
            "scheme": entry.name,
            "distribution": entry.dist.name if entry.dist else None,
            "version": entry.dist.version if entry.dist else None,
            "target": entry.value,
            "capabilities": [],
            "error": None,
        }
        try:
            backend = entry.load()
        except Exception as error:  # a broken plugin may raise anything on import
            row["error"] = f"{type(error).__name__}: {error}"
        else:
            row["capabilities"] = sorted(str(c) for c in getattr(backend, "capabilities", ()))
        rows.append(row)
    return rows


@app.command("ls")
@click.argument("url")
@click.option(
    "--conversations", is_flag=True, help="List the conversations instead of the threads."
)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--after", metavar="ID", help="Start after this one (the next page).")
@click.option("--before", metavar="ID", help="End before this one (the previous page).")
@click.option("--order", type=click.Choice(["asc", "desc"]), default="desc", show_default=True)
@_json_option
def list_threads(
    url: str,
    conversations: bool,
    limit: int,
    after: str | None,
    before: str | None,
    order: str,
    as_json: bool,
) -> int:
    """List the threads (or the conversations) of the store at URL, one page at a time,
    in creation order."""
    direction: Order = "asc" if order == "asc" else "desc"
    name, flag = ("conversation", " --conversations") if conversations else ("thread", "")
    with _opened(url) as (store, shown):
        lister = store.list_conversations if conversations else store.list_threads
        page = lister(limit=limit, order=direction, after=after, before=before)
    if as_json:
        _print_json(page.model_dump(mode="json"))
        return EXIT_OK
    from threadstore.cli import render

    command = f"threadstore ls {shown}{flag} --limit {limit} --order {order}"
    render.top_list(page, name, command)
    return EXIT_OK


@app.command()
@click.argument("url")
@click.argument("thread_id", metavar="ID")
@click.option(
    "--conversation",
    "is_conversation",
    is_flag=True,
    help="ID names a conversation (needed only when a thread has the same ID).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="Show the first N messages and runs."
)
@click.option(
    "--after",
    metavar="ID",
    help="Continue after this message, or after this run (the next page of that list).",
)
@click.option(
    "--tail", type=click.IntRange(min=1), metavar="N", help="Show the last N messages and runs."
)
@_json_option
def show(
    url: str,
    thread_id: str,
    is_conversation: bool,
    limit: int | None,
    after: str | None,
    tail: int | None,
    as_json: bool,
) -> int:
    """Show a thread with its messages, and its runs with their steps, oldest first; or
    a conversation with its items.

    ID names a thread, or else a conversation. Lists are read a page at a time and
    printed as they come, however long. --limit and --after page through them; --after
    takes the ID of a message or of a run and continues that list only (of a
    conversation, an item's ID). With --json, prints the wire objects: {"thread",
    "messages", "runs", "steps"} (only the lists shown), or {"conversation", "items"}.
    """
    from functools import partial

    from threadstore.errors import ThreadNotFound
    from threadstore.snapshot import Slice, every, list_holding

    if tail is not None and (limit is not None or after is not None):
        raise click.UsageError("--tail cannot be combined with --limit or --after")
    with _opened(url) as (store, shown):
        try:
            if is_conversation:
                raise ThreadNotFound(thread_id)
            thread = store.get_thread(thread_id)
        except ThreadNotFound:
            conversation = _conversation_named(store, thread_id, shown, is_conversation)
            items = Slice(partial(store.list_items, thread_id), limit=limit, after=after, tail=tail)
            _show_conversation(conversation, items, shown, limit, after, tail, as_json)
            return EXIT_OK
        lists = ("messages", "runs") if after is None else (list_holding(store, thread_id, after),)
        messages = Slice(
            partial(store.list_messages, thread_id), limit=limit, after=after, tail=tail
        )
        runs = Slice(partial(store.list_runs, thread_id), limit=limit, after=after, tail=tail)

        def steps(run_id: str) -> Iterator[RunStep]:
            return every(partial(store.list_steps, thread_id, run_id))

        if as_json:
            _print_thread_json(
                thread,
                messages if "messages" in lists else None,
                runs if "runs" in lists else None,
                steps,
            )
            return EXIT_OK
        from threadstore.cli import render

        render.thread_head(thread)
        command = f"threadstore show {shown} {thread_id} --limit {limit}"
        if "messages" in lists:
            render.thread_messages(messages, _window_title("messages", limit, after, tail))
            if messages.more_after is not None:
                render.more("messages", f"{command} --after {messages.more_after}")
        if "runs" in lists:
            render.thread_runs(runs, steps, _window_title("runs", limit, after, tail))
            if runs.more_after is not None:
                render.more("runs", f"{command} --after {runs.more_after}")
    return EXIT_OK


def _conversation_named(
    store: ThreadStore, conversation_id: str, shown: str, asked: bool
) -> Conversation:
    """The conversation ``show`` was given, when no thread has the ID."""
    from threadstore.errors import ConversationNotFound

    try:
        return store.get_conversation(conversation_id)
    except ConversationNotFound:
        if asked:
            raise
        raise NotFoundError(
            conversation_id, f"no thread or conversation {conversation_id!r} in {shown}"
        ) from None


def _show_conversation(
    conversation: Conversation,
    items: Slice[ConversationItem],
    shown: str,
    limit: int | None,
    after: str | None,
    tail: int | None,
    as_json: bool,
) -> None:
    if as_json:
        _print_records_json("conversation", conversation, [("items", items)])
        return
    from threadstore.cli import render

    render.conversation_head(conversation)
    render.conversation_items(items, _window_title("items", limit, after, tail))
    if items.more_after is not None:
        command = f"threadstore show {shown} {conversation.id} --conversation --limit {limit}"
        render.more("items", f"{command} --after {items.more_after}")


def _window_title(name: str, limit: int | None, after: str | None, tail: int | None) -> str:
    if tail is not None:
        return f"{name}, the last {tail}, oldest first"
    where = f" after {after}" if after is not None else ""
    first = f", the first {limit}" if limit is not None else ""
    return f"{name}{where}{first}, oldest first"


def _print_thread_json(
    thread: Thread,
    messages: Iterable[Message] | None,
    runs: Iterable[Run] | None,
    steps: Callable[[str], Iterable[RunStep]],
) -> None:
    """The thread and its lists as one JSON object, written a record at a time."""
    run_ids: list[str] = []

    def runs_seen() -> Iterator[Run]:
        for run in runs or ():
            run_ids.append(run.id)
            yield run

    def their_steps() -> Iterator[RunStep]:
        for run_id in run_ids:
            yield from steps(run_id)

    fields: list[tuple[str, Iterable[Any]]] = []
    if messages is not None:
        fields.append(("messages", messages))
    if runs is not None:
        fields += [("runs", runs_seen()), ("steps", their_steps())]
    _print_records_json("thread", thread, fields)


def _print_records_json(
    name: str, record: Any, fields: Sequence[tuple[str, Iterable[Any]]]
) -> None:
    """A record and its lists as one JSON object, written a record at a time."""
    write = click.echo
    write(f'{{\n  "{name}": {_json_text(record)}', nl=False)
    for name, records in fields:
        write(f',\n  "{name}": [', nl=False)
        separator = "\n    "
        for record in records:
            write(separator + _json_text(record), nl=False)
            separator = ",\n    "
        write("\n  ]" if separator != "\n    " else "]", nl=False)
    write("\n}")


def _json_text(record: Any) -> str:
    return json.dumps(record.model_dump(mode="json"), ensure_ascii=False)


@app.command()
@click.argument("source_url")
@click.argument("target_url")
@click.option(
    "--thread",
    "thread_ids",
    multiple=True,
    metavar="ID",
    help="Copy this thread (repeat for more). [default: every thread and conversation]",
)
@click.option(
    "--conversation",
    "conversation_ids",
    multiple=True,
    metavar="ID",
    help="Copy this conversation (repeat for more).",
)
@click.option("--dry-run", is_flag=True, help="Compare and count, but write nothing.")
@click.option("-v", "--verbose", is_flag=True, help="Log every record on stderr.")
@_json_option
def copy(
    source_url: str,
    target_url: str,
    thread_ids: tuple[str, ...],
    conversation_ids: tuple[str, ...],
    dry_run: bool,
    verbose: bool,
    as_json: bool,
) -> int:
    """Copy threads, with messages, runs and steps, and conversations, with their items,
    from SOURCE_URL to TARGET_URL.

    Everything, or only the threads and conversations named. IDs, timestamps, statuses
    and the order of every list are kept. Records already in
    the target are recognised by ID: identical ones are skipped, different ones are
    reported as conflicts and left alone (exit code 1). Nothing in the target is
    overwritten or deleted, so an interrupted copy is finished by running it again.
    """
    from threadstore.cli import render
    from threadstore.migrate import StoreCopy, chosen_records, count_records, same_store
    from threadstore.url import StoreURL

    if same_store(StoreURL.parse(source_url), StoreURL.parse(target_url)):
        raise click.UsageError("SOURCE_URL and TARGET_URL name the same store; copy it elsewhere")
    with ExitStack() as stack:
        source, source_shown = stack.enter_context(_opened(source_url))
        named = thread_ids or conversation_ids
        threads, conversations = chosen_records(
            source, thread_ids if named else None, conversation_ids if named else None
        )
        # A target is created only to be written to.
        writes = bool(threads or conversations) and not dry_run
        target, target_shown = stack.enter_context(
            _opened(target_url, create=writes, empty_if_missing=not writes)
        )
        counted = render.err.is_terminal
        total = count_records(source, threads, conversations) if counted else None
        advance = stack.enter_context(render.progress("copying records", total))

        interrupted = stack.enter_context(_ctrl_c_remembered())

        def on_event(event: CopyEvent) -> None:
            interrupted()
            advance()
            if verbose:
                render.copy_event(event)

        job = StoreCopy(source, target, dry_run=dry_run, on_event=on_event)
        try:
            for thread_id in threads:
                job.copy_thread(thread_id)
            for conversation_id in conversations:
                job.copy_conversation(conversation_id)
        except KeyboardInterrupt:
            render.copy_interrupted(job.report)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    report = job.report
    if as_json:
        _print_json({"source": source_shown, "target": target_shown, **report.to_json()})
    else:
        render.copy_summary(report, source_shown, target_shown)
    return EXIT_OK if report.ok else EXIT_FINDINGS


@app.command()
@click.argument("url")
@click.option("--repair", is_flag=True, help="Fix what can be fixed safely, and say what.")
@_json_option
def verify(url: str, repair: bool, as_json: bool) -> int:
    """Check the integrity of the store at URL; exit 1 if anything is wrong.

    Every record must parse, listings must agree with gets, owner IDs must match, a
    message's run_id must name a run of its thread, and a message_creation step's
    message must exist; the same of conversations and their items. A backend may add
    checks of its own storage (temporary files, sequences, indexes), which --repair lets
    it fix.
    """
    from threadstore.cli import render
    from threadstore.integrity import StoreVerifier

    with _opened(url) as (store, shown):
        verifier = StoreVerifier(store)
        verifier.check_storage(repair=repair)
        threads = verifier.threads()
        with render.progress("verifying threads", len(threads)) as advance:
            for thread in threads:
                verifier.check_thread(thread)
                advance()
        conversations = verifier.conversations()
        with render.progress("verifying conversations", len(conversations)) as advance:
            for conversation in conversations:
                verifier.check_conversation(conversation)
                advance()
    report = verifier.report
    if as_json:
        _print_json({"url": shown, "repair": repair, **report.to_json()})
    else:
        render.verify_report(report, shown, repair=repair)
    return EXIT_OK if report.ok else EXIT_FINDINGS


@app.command()
@click.argument("url")
@_json_option
def migrate(url: str, as_json: bool) -> int:
    """Create or upgrade the store at URL to this version's format (back it up first).

    A store of an older format refuses to open until this has run once; stop every
    process that uses the store while it runs.
    """
    from threadstore.errors import InvalidRequestError
    from threadstore.registry import backend_class
    from threadstore.url import StoreURL

    parsed = StoreURL.parse(url)
    _secrets.add(parsed.secrets)
    backend = backend_class(parsed.scheme)
    upgrade = getattr(backend, "migrate_schema", None)
    if upgrade is None:
        return _fail(
            InvalidRequestError(f"the {parsed.scheme}:// backend keeps no format to migrate"),
            EXIT_USAGE,
        )
    before, after = upgrade(parsed)
    shown = parsed.render()
    if as_json:
        _print_json({"url": shown, "before": before, "after": after})
    elif before is None:
        click.echo(f"{shown}: created at version {after}")
    elif before == after:
        click.echo(f"{shown}: version {after}, already current")
    else:
        click.echo(f"{shown}: migrated from version {before} to {after}")
    return EXIT_OK
