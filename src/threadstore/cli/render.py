"""What the commands print for people: tables, a thread's messages and runs, a
conversation's items, summaries.

rich colours the output on a terminal and prints plain text otherwise; stored text is
always printed as text, never read as markup. Data for programs goes out as JSON
(``--json``) from the commands, not through here. Progress and logs go to stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from threadstore.demo import PAGE_SIZE, DemoEvent
from threadstore.integrity import VerifyReport
from threadstore.migrate import KINDS, CopyEvent, CopyReport
from threadstore.models import (
    Conversation,
    ConversationItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    ImageFileContentBlock,
    ImageURLContentBlock,
    InputFile,
    InputImage,
    InputText,
    Message,
    MessageCreationStepDetails,
    MessageItem,
    OutputText,
    Page,
    ReasoningItem,
    Refusal,
    RefusalContentBlock,
    Run,
    RunStep,
    TextContentBlock,
    Thread,
)

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

_STATUS_STYLE = {
    "completed": "green",
    "queued": "yellow",
    "in_progress": "yellow",
    "cancelling": "yellow",
    "requires_action": "magenta",
    "incomplete": "red",
    "cancelled": "red",
    "failed": "red",
    "expired": "red",
}
_ROLE_STYLE = {"user": "bold cyan", "assistant": "bold green"}
_OTHER_ROLE = "bold magenta"
_BATCH = 200
"""Lines printed at once: rich's cost is mostly per print, not per line."""


def _when(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _status(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def _pairs(metadata: Mapping[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in metadata.items())


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


class _Rate(ProgressColumn):
    """Items per second, once there is a measure of it."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (only when it is a terminal), with the rate and the time
    left; yields "one more done". ``total`` is ``None`` when it was not counted."""
    bar = Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        "ETA",
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


# --- backends -----------------------------------------------------------------


def backends(rows: Sequence[Mapping[str, Any]]) -> None:
    table = _table("SCHEME", "DISTRIBUTION", "VERSION", "CAPABILITIES")
    for row in rows:
        capabilities = (
            Text(f"failed to load: {row['error']}", style="red")
            if row["error"]
            else Text(", ".join(row["capabilities"]) or "-")
        )
        table.add_row(
            Text(f"{row['scheme']}://", style="bold"),
            row["distribution"] or "-",
            row["version"] or "-",
            capabilities,
        )
    out.print(table if rows else "No backends are installed.")


# --- threads --------------------------------------------------------------------


def top_list(page: Page[Thread] | Page[Conversation], name: str, command: str) -> None:
    """One page of threads or of conversations (``name``: ``"thread"``, ``"conversation"``)."""
    if not page.data:
        out.print(f"No {name}s.")
        return
    table = _table(name.upper(), "CREATED (UTC)", "METADATA")
    for record in page.data:
        table.add_row(
            Text(record.id, style="cyan"), _when(record.created_at), _pairs(record.metadata)
        )
    out.print(table)
    if page.has_more:
        out.print(Text(f"More: {command} --after {page.last_id}", style="dim"))


def _content(message: Message) -> str:
    parts = []
    for part in message.content:
        if isinstance(part, TextContentBlock):
            parts.append(part.text.value)
        elif isinstance(part, ImageFileContentBlock):
            parts.append(f"[image file {part.image_file.file_id}]")
        elif isinstance(part, ImageURLContentBlock):
            parts.append(f"[image {part.image_url.url}]")
        elif isinstance(part, RefusalContentBlock):
            parts.append(f"[refusal] {part.refusal}")
    return "\n".join(parts)


def _message(message: Message) -> list[Text]:
    """A message's lines: its header, then its text indented."""
    line = Text.assemble(
        "  ",
        (_when(message.created_at), "dim"),
        "  ",
        (f"{message.role:<9}", _ROLE_STYLE[message.role]),
        " ",
        (message.id, "dim"),
    )
    if message.status != "completed":
        line.append("  ").append_text(_status(message.status))
    if message.run_id:
        line.append(f"  run {message.run_id}", style="dim")
    return [line, *(Text("      " + text) for text in _content(message).splitlines() or [""])]


def _run(run: Run, steps: Iterable[RunStep]) -> list[Text]:
    """A run's lines: its header, its error if any, then one line per step."""
    line = Text.assemble("  ", (run.id, "cyan"), "  ")
    line.append_text(_status(run.status))
    line.append(f"  assistant {run.assistant_id}")
    if run.model:
        line.append(f"  model {run.model}")
    line.append(f"  created {_when(run.created_at)}", style="dim")
    if run.usage:
        line.append(f"  tokens {run.usage.prompt_tokens}+{run.usage.completion_tokens}")
    lines = [line]
    if run.last_error:
        lines.append(Text(f"    {run.last_error.code}: {run.last_error.message}", style="red"))
    return lines + [_step(step) for step in steps]


def _step_target(step: RunStep) -> str:
    details = step.step_details
    if isinstance(details, MessageCreationStepDetails):
        return f"-> {details.message_creation.message_id}"
    return ", ".join(call.type for call in details.tool_calls) or "no tool calls"


def _step(step: RunStep) -> Text:
    line = Text.assemble("    ", (step.id, "dim"), f"  {step.type}  ")
    return line.append_text(_status(step.status)).append(f"  {_step_target(step)}")


def _parts(parts: Iterable[object]) -> str:
    """The text of content parts, with a placeholder for what is not text."""
    shown = []
    for part in parts:
        if isinstance(part, InputText | OutputText):
            shown.append(part.text)
        elif isinstance(part, Refusal):
            shown.append(f"[refusal] {part.refusal}")
        elif isinstance(part, InputImage):
            shown.append(f"[image {part.image_url or part.file_id}]")
        elif isinstance(part, InputFile):
            shown.append(f"[file {part.filename or part.file_id or part.file_url}]")
        else:
            shown.append(f"[{getattr(part, 'type', 'part')}]")
    return "\n".join(shown)


def _item_text(item: ConversationItem) -> tuple[str, str]:
    """What heads an item's line after its type (a role, a call), and its text."""
    if isinstance(item, MessageItem):
        return item.role, _parts(item.content)
    if isinstance(item, FunctionCallItem):
        return f"{item.name}  {item.call_id}", item.arguments
    if isinstance(item, FunctionCallOutputItem):
        output = item.output if isinstance(item.output, str) else _parts(item.output)
        return item.call_id, output
    if isinstance(item, ReasoningItem):
        return "", "\n".join(part.text for part in item.summary)
    return "", ""


def _item(item: ConversationItem) -> list[Text]:
    """An item's lines: its ID, type and what it says."""
    head, text = _item_text(item)
    line = Text.assemble("  ", (item.id, "dim"), "  ", (item.type, "bold"))
    if head:
        line.append("  ").append(head, style=_ROLE_STYLE.get(head, _OTHER_ROLE))
    status = getattr(item, "status", None)
    if isinstance(status, str) and status != "completed":
        line.append("  ").append_text(_status(status))
    return [line, *(Text("      " + part) for part in text.splitlines())]


def conversation_head(conversation: Conversation) -> None:
    head = Text.assemble(("conversation ", "bold"), (conversation.id, "bold cyan"))
    head.append(f"  created {_when(conversation.created_at)} UTC")
    if conversation.metadata:
        head.append(f"  {_pairs(conversation.metadata)}", style="dim")
    out.print(head)


def conversation_items(items: Iterable[ConversationItem], title: str) -> None:
    """Print items as they come."""
    _listing(title, (_item(item) for item in items))


def thread_head(thread: Thread) -> None:
    head = Text.assemble(("thread ", "bold"), (thread.id, "bold cyan"))
    head.append(f"  created {_when(thread.created_at)} UTC")
    if thread.metadata:
        head.append(f"  {_pairs(thread.metadata)}", style="dim")
    out.print(head)


def _lines(lines: list[Text]) -> None:
    """Print lines at once; off a terminal, as the plain text rich would print."""
    if not lines:
        return
    if out.is_terminal:
        out.print(Text("\n").join(lines))
    else:
        out.file.write("".join(line.plain + "\n" for line in lines))


def thread_messages(messages: Iterable[Message], title: str) -> None:
    """Print messages as they come."""
    _listing(title, (_message(message) for message in messages))


def thread_runs(runs: Iterable[Run], steps: Callable[[str], Iterable[RunStep]], title: str) -> None:
    """Print runs as they come, each with its steps."""
    _listing(title, (_run(run, steps(run.id)) for run in runs))


def _listing(title: str, records: Iterable[list[Text]]) -> None:
    """A titled list, printed a batch of lines at a time (one print per line would cost
    more than the reading: 10^5 messages took most of a minute)."""
    out.print(Text(f"\n{title}", style="bold"))
    batch: list[Text] = []
    none = True
    for lines in records:
        batch += lines
        none = False
        if len(batch) >= _BATCH:
            _lines(batch)
            batch = []
    _lines(batch)
    if none:
        out.print(Text("  none", style="dim"))


def more(what: str, command: str) -> None:
    out.print(Text(f"More {what}: {command}", style="dim"))


# --- demo -----------------------------------------------------------------------


def demo_start(url: str) -> None:
    out.print(Text.assemble(("threadstore demo", "bold"), f": a scripted conversation in {url}"))
    out.print()


def demo_event(event: DemoEvent) -> None:
    record = event.record
    if isinstance(record, Thread):
        out.print(Text.assemble(("thread     ", "bold"), (record.id, "cyan"), " created"))
    elif isinstance(record, Message):
        out.print(Text.assemble((f"{record.role:<10} ", _ROLE_STYLE[record.role]), record.text))
    elif isinstance(record, Run):
        line = Text.assemble(("run        ", "bold"), (record.id, "cyan"), " ")
        line.append_text(_status(record.status))
        if record.usage:
            line.append(f"  ({record.usage.total_tokens} tokens)", style="dim")
        out.print(line)
    elif isinstance(record, RunStep):
        line = Text.assemble(("step       ", "bold"), (record.id, "cyan"), f" {record.type} ")
        line.append_text(_status(record.status)).append(f"  {_step_target(record)}")
        out.print(line)
    else:
        ids = " ".join(f"{m.id} ({m.role})" for m in record.data)
        out.print(
            Text.assemble(
                ("page       ", "bold"),
                ids,
                (f"  has_more={str(record.has_more).lower()}", "dim"),
            )
        )


def demo_end(where: str, argument: str, thread_id: str, *, kept: bool) -> None:
    """Say where the data is (a path or a URL) and which commands to try on ``argument``."""
    out.print()
    out.print(
        f"The messages were read back {PAGE_SIZE} per page, oldest first, "
        "each page continuing after the last ID of the one before."
    )
    if not kept:
        out.print(
            Text(
                f"{where} keeps nothing once this command ends. "
                "Run `threadstore demo` without --store to keep the data on disk.",
                style="yellow",
            )
        )
        return
    out.print(Text.assemble("Your data is in ", (where, "bold"), "."))
    out.print("Try next:")
    for command in (
        f"threadstore ls {argument}",
        f"threadstore show {argument} {thread_id}",
        f"threadstore verify {argument}",
        f"threadstore copy {argument} {argument}-copy",
    ):
        out.print(Text(f"  {command}", style="cyan"))


# --- copy and verify -----------------------------------------------------------


def copy_event(event: CopyEvent) -> None:
    style = {"created": "green", "conflict": "red"}.get(event.outcome, "dim")
    err.print(Text(f"{event.outcome} {event.kind} {event.location}", style=style))


def copy_summary(report: CopyReport, source: str, target: str) -> None:
    if report.dry_run:
        out.print(f"Dry run, nothing written: {source} to {target}")
    else:
        out.print(f"Copied {source} to {target}")
    table = _table("", "WOULD CREATE" if report.dry_run else "CREATED", "UNCHANGED")
    for kind in KINDS:
        table.add_row(f"{kind}s", str(report.created[kind]), str(report.unchanged[kind]))
    out.print(table)
    if report.conflicts:
        conflicts = _count(len(report.conflicts), "conflict")
        out.print(Text(f"{conflicts}, left as they are:", style="red"))
        for conflict in report.conflicts:
            out.print(Text(f"  {conflict.location}: {conflict.reason}"))


def copy_interrupted(report: CopyReport) -> None:
    """What an interrupted copy had done, and how to finish it."""
    done = ", ".join(
        f"{_count(report.created[kind], kind)}" for kind in KINDS if report.created[kind]
    )
    what = "would have created" if report.dry_run else "copied"
    err.print(f"Interrupted: {what} {done or 'nothing yet'}", end="")
    unchanged = sum(report.unchanged.values())
    err.print(f" ({unchanged} already there)." if unchanged else ".")
    if not report.dry_run:
        err.print(
            "Run the same command again to finish: what was copied is recognised and "
            "skipped, nothing is copied twice."
        )


def verify_report(report: VerifyReport, url: str, *, repair: bool) -> None:
    for finding in report.findings:
        mark = Text("repaired ", style="green") if finding.repaired else Text("")
        out.print(
            Text.assemble(
                mark,
                (finding.location, "bold"),
                f"  {finding.check}: ",
                (finding.detail, "" if finding.repaired else "red"),
            )
        )
    counts = ", ".join(_count(n, kind[:-1]) for kind, n in report.checked.items())
    out.print(f"Checked {url}: {counts}.")
    if not report.storage_checked:
        note = "This backend offers no storage checks"
        out.print(Text(f"{note}; --repair changed nothing." if repair else f"{note}.", style="dim"))
    left = sum(not finding.repaired for finding in report.findings)
    repaired = len(report.findings) - left
    if left:
        out.print(Text(f"{_count(left, 'problem')} found.", style="bold red"))
    else:
        out.print(Text("No problems found.", style="bold green"))
    if repaired:
        out.print(Text(f"{_count(repaired, 'problem')} repaired.", style="green"))
