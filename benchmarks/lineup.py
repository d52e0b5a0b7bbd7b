"""Who is measured: every threadstore backend installed here, and the peers beside them.

A contender whose package is missing is left out with the reason, so the command runs
anywhere the core runs; the report lists what was left out.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.contenders.agents_session import AgentsSessionContender, agents_version
from benchmarks.contenders.agents_sqlalchemy import (
    AgentsSqlAlchemyContender,
    sqlalchemy_session_available,
)
from benchmarks.contenders.base import Contender, Role
from benchmarks.contenders.plain import PlainContender
from benchmarks.contenders.psycopg_floor import PsycopgContender
from benchmarks.contenders.seed_jsonl import SeedJsonlContender
from benchmarks.contenders.sqlite import SqliteContender
from benchmarks.contenders.threadstore_url import Loader, ThreadStoreContender
from benchmarks.corpus import Corpus
from benchmarks.loopback_postgres import BENCH_DATABASE, conninfo
from benchmarks.loopback_s3 import LoopbackS3
from benchmarks.profiles import Profile
from threadstore.errors import InvalidRequestError
from threadstore.protocol import ThreadStore
from threadstore.registry import open_store

if TYPE_CHECKING:
    from threadstore_sql.testing import PostgresServer

__all__ = [
    "MEMORY",
    "PLAIN",
    "POSTGRES",
    "PSYCOPG",
    "PSYCOPG_ORDERED",
    "S3_DELAYED",
    "S3_DIRECT",
    "SQLITE_FULL",
    "THREADSTORE_SQLITE",
    "lineup",
]

MEMORY = "threadstore memory"
PLAIN = "plain dict+list"
LOCAL = "threadstore file"
LOCAL_FAST = "threadstore file, durable=false"
S3_DIRECT = "threadstore s3 (moto)"
S3_DELAYED = "threadstore s3 (moto +delay)"
SQLITE_FULL = "sqlite3 WAL FULL"
SQLITE_NORMAL = "sqlite3 WAL NORMAL"
AGENTS = "agents SQLiteSession"
SEED = "seed JSONL"
THREADSTORE_SQLITE = "threadstore sqlite"
POSTGRES = "threadstore postgresql"
PSYCOPG = "psycopg bare"
PSYCOPG_ORDERED = "psycopg ordered"
AGENTS_POSTGRES = "agents SQLAlchemySession"

# A second way to open data another contender already reads: measured where it differs.
_WRITES_ONLY = frozenset({Role.APPEND, Role.WRITERS, Role.RUNS})


def _local_fast_mode(url: str) -> bool:
    """Whether the local backend offers ``durable=false`` (asked through the public API)."""
    try:
        open_store(url, durable=False).close()
    except InvalidRequestError:
        return False
    return True


def _sqlite_backend() -> bool:
    """Whether a ``sqlite://`` backend is installed."""
    from threadstore.registry import available_backends

    return "sqlite" in available_backends()


def _seed_s3(store: ThreadStore, thread_id: str, count: int) -> list[str]:
    """S3 fixtures through the object-storage benchmark's bulk writer (``seed``)."""
    from threadstore_fsspec import FsspecThreadStore

    from benchmarks.object_storage import seed

    if not isinstance(store, FsspecThreadStore):
        raise TypeError(f"expected the S3 store, got {type(store).__name__}")
    return seed(store, thread_id, count)


def _s3_loader(skipped: list[str]) -> Loader | None:
    """:func:`_seed_s3` if the object-storage benchmark offers ``seed``."""
    try:
        offered = hasattr(importlib.import_module("benchmarks.object_storage"), "seed")
    except ImportError as error:
        offered, why = False, str(error)
    else:
        why = "benchmarks.object_storage has no seed()"
    if not offered:
        skipped.append(f"{S3_DIRECT} fixtures: appended one by one ({why})")
        return None
    return _seed_s3


def batches(store: ThreadStore, thread_id: str, count: int) -> list[str]:
    """SQL fixtures through ``append_messages``, a thousand messages per transaction."""
    messages = Corpus.fresh(count)
    for start in range(0, count, 1000):
        store.append_messages(thread_id, messages[start : start + 1000])
    return [message.id for message in messages]


def _postgres(server: PostgresServer, skipped: list[str]) -> list[Contender]:
    """threadstore on the server, bare psycopg on the same server (the floor), and the
    Agents SDK's SQLAlchemy session there."""
    floor = conninfo(server)
    contenders: list[Contender] = [
        ThreadStoreContender(
            label=POSTGRES,
            url=server.url(BENCH_DATABASE, schema="threadstore"),
            durable=True,
            loader=batches,
        ),
        PsycopgContender(label=PSYCOPG, conninfo=floor),
        PsycopgContender(
            label=PSYCOPG_ORDERED,
            conninfo=floor,
            dataset=PSYCOPG,
            ordered=True,
            roles=frozenset({Role.APPEND, Role.WRITERS}),
        ),
    ]
    why_not = sqlalchemy_session_available()
    if why_not is None:
        url = server.url(BENCH_DATABASE, scheme="postgresql+psycopg")
        contenders.append(AgentsSqlAlchemyContender(label=AGENTS_POSTGRES, url=url))
    else:
        skipped.append(f"{AGENTS_POSTGRES}: {why_not}")
    return contenders


def lineup(
    workdir: Path,
    profile: Profile,
    s3: LoopbackS3 | None,
    skipped: list[str],
    postgres: PostgresServer | None = None,
) -> tuple[list[Contender], ThreadStoreContender | None]:
    """The contenders in measuring order, and the S3 store behind the delaying proxy."""
    local_url = f"file://{workdir / 'threadstore-file'}"
    fast = _local_fast_mode(local_url)
    contenders: list[Contender] = [
        ThreadStoreContender(
            label=MEMORY,
            url="memory://",
            roles=frozenset(Role) - {Role.WRITERS, Role.COLD_OPEN},
        ),
        PlainContender(label=PLAIN),
        ThreadStoreContender(
            label=LOCAL,
            url=local_url,
            durable=True,
            fixture_options={"durable": False} if fast else None,
        ),
    ]
    if fast:
        contenders.append(
            ThreadStoreContender(
                label=LOCAL_FAST,
                url=local_url,
                dataset=LOCAL,
                options={"durable": False},
                roles=_WRITES_ONLY,
            )
        )
    else:
        skipped.append(f"{LOCAL_FAST}: the local backend has no durable=false option")
    sqlite_path = workdir / "sqlite.db"
    contenders += [
        SqliteContender(label=SQLITE_FULL, path=sqlite_path, synchronous="FULL"),
        SqliteContender(
            label=SQLITE_NORMAL,
            path=sqlite_path,
            dataset=SQLITE_FULL,
            synchronous="NORMAL",
            roles=_WRITES_ONLY,
        ),
    ]
    if _sqlite_backend():
        contenders.append(
            ThreadStoreContender(
                label=THREADSTORE_SQLITE,
                url=f"sqlite:///{workdir / 'threadstore.sqlite'}",
                durable=True,
                loader=batches,
            )
        )
    else:
        skipped.append(f"{THREADSTORE_SQLITE}: threadstore-sql is not installed")
    if agents_version() is not None:
        contenders.append(AgentsSessionContender(label=AGENTS, path=workdir / "agents.db"))
    else:
        skipped.append(f"{AGENTS}: openai-agents is not installed")
    contenders.append(
        SeedJsonlContender(
            label=SEED, root=workdir / "seed", max_messages=profile.seed_max_messages
        )
    )
    if postgres is not None:
        contenders += _postgres(postgres, skipped)
    delayed = None
    if s3 is not None:
        url = s3.url("bench")
        loader = _s3_loader(skipped)
        contenders.append(
            ThreadStoreContender(
                label=S3_DIRECT,
                url=url,
                options={"endpoint_url": s3.endpoint},
                durable=True,
                max_messages=profile.s3_max_messages,
                max_threads=profile.s3_threads,
                loader=loader,
                slow=True,
            )
        )
        delayed = ThreadStoreContender(
            label=S3_DELAYED,
            url=url,
            dataset=S3_DIRECT,
            options={"endpoint_url": s3.delayed_endpoint},
            fixture_options={"endpoint_url": s3.endpoint},
            durable=True,
            max_messages=profile.s3_max_messages,
            max_threads=profile.s3_threads,
            loader=loader,
            slow=True,
        )
    return contenders, delayed
