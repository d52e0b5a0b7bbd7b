"""The commands of ``threadstore``, declared with click; each returns its exit code.

Library modules are imported inside the command that uses them, and printing for
people lives in :mod:`threadstore.cli.render` (rich), also imported on first use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

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
    BackendNotFoundError,
    InvalidRequestError,
    NotFoundError,
    ThreadStoreError,
)

if TYPE_CHECKING:
    from threadstore.protocol import ThreadStore

__all__ = ["app", "run"]

DEMO_LOCATION = "threadstore-demo"
F = TypeVar("F", bound=Callable[..., Any])


class _Secrets:
    """Secret values from the URLs on the command line, masked in every error printed.

    Output shows URLs through ``StoreURL.render()``, which hides them already; this
    also covers an error message from a backend that quotes what it was given.
    """

    def __init__(self) -> None:
        self.values: set[str] = set()

    def remember(self, url: str) -> None:
        from threadstore.url import is_secret

        try:
            parts = urlsplit(url)
            password = parts.password
        except ValueError:
            return
        if password:
            self.values |= {password, unquote(password)}
        for name, value in parse_qsl(parts.query):
            if value and is_secret(name):
                self.values.add(value)

    def mask(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


_secrets = _Secrets()


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

    _secrets.remember(url)
    parsed = StoreURL.parse(url)
    shown = parsed.render()
    if not create and parsed.scheme == "file" and not os.path.isdir(parsed.path):
        if not empty_if_missing:
            problem = "is not a directory" if os.path.exists(parsed.path) else "does not exist"
            raise NotFoundError(parsed.path, f"no store at {shown}: {parsed.path} {problem}")
        parsed = StoreURL.parse("memory://")
    with open_store(parsed) as store:
        yield store, shown


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
    """Threads, messages, runs and run steps, stored behind one URL.

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
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--after", metavar="ID", help="Start after this thread (the next page).")
@click.option("--before", metavar="ID", help="End before this thread (the previous page).")
@click.option("--order", type=click.Choice(["asc", "desc"]), default="desc", show_default=True)
@_json_option
def list_threads(
    url: str, limit: int, after: str | None, before: str | None, order: str, as_json: bool
) -> int:
    """List the threads of the store at URL, one page at a time (ID order)."""
    with _opened(url) as (store, shown):
        page = store.list_threads(
            limit=limit,
            order="asc" if order == "asc" else "desc",
            after=after,
            before=before,
        )
    if as_json:
        _print_json(page.model_dump(mode="json"))
    else:
        from threadstore.cli import render

        render.thread_list(page, f"threadstore ls {shown} --limit {limit} --order {order}")
    return EXIT_OK


@app.command()
@click.argument("url")
@click.argument("thread_id")
@_json_option
def show(url: str, thread_id: str, as_json: bool) -> int:
    """Show a thread with its messages, and its runs with their steps.

    With --json, prints the wire objects: {"thread", "messages", "runs", "steps"}.
    """
    from threadstore.snapshot import read_thread

    with _opened(url) as (store, _):
        snapshot = read_thread(store, thread_id)
    if as_json:
        _print_json(snapshot.to_json())
    else:
        from threadstore.cli import render

        render.thread_view(snapshot)
    return EXIT_OK


@app.command()
@click.argument("source_url")
@click.argument("target_url")
@click.option(
    "--thread",
    "thread_ids",
    multiple=True,
    metavar="ID",
    help="Copy only this thread (repeat for more). [default: every thread]",
)
@click.option("--dry-run", is_flag=True, help="Compare and count, but write nothing.")
@click.option("-v", "--verbose", is_flag=True, help="Log every record on stderr.")
@_json_option
def copy(
    source_url: str,
    target_url: str,
    thread_ids: tuple[str, ...],
    dry_run: bool,
    verbose: bool,
    as_json: bool,
) -> int:
    """Copy threads, with messages, runs and steps, from SOURCE_URL to TARGET_URL.

    IDs, timestamps, statuses and the order of every list are kept. Records already in
    the target are recognised by ID: identical ones are skipped, different ones are
    reported as conflicts and left alone (exit code 1). Nothing in the target is
    overwritten or deleted, so an interrupted copy is finished by running it again.
    """
    from threadstore.cli import render
    from threadstore.migrate import StoreCopy

    with ExitStack() as stack:
        source, source_shown = stack.enter_context(_opened(source_url))
        target, target_shown = stack.enter_context(
            _opened(target_url, create=not dry_run, empty_if_missing=dry_run)
        )
        job = StoreCopy(
            source, target, dry_run=dry_run, on_event=render.copy_event if verbose else None
        )
        chosen = job.thread_ids(thread_ids or None)
        with render.progress("copying threads", len(chosen)) as advance:
            for thread_id in chosen:
                job.copy_thread(thread_id)
                advance()
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
    message must exist. A backend may add checks of its own storage (temporary files,
    sequences, indexes), which --repair lets it fix.
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
    report = verifier.report
    if as_json:
        _print_json({"url": shown, "repair": repair, **report.to_json()})
    else:
        render.verify_report(report, shown, repair=repair)
    return EXIT_OK if report.ok else EXIT_FINDINGS


from threadstore.cli import schema_command  # noqa: E402, F401  (registers `migrate`)
