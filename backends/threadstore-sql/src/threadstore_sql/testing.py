"""A throwaway PostgreSQL server for tests and benchmarks, on 127.0.0.1.

:func:`postgres_server` runs ``initdb`` into a temporary directory, starts the server on a
free loopback port (no Unix socket), and removes everything afterwards. PostgreSQL refuses
to run as root, so under root the server runs as ``nobody``. The binaries come from
``PATH`` or Debian's ``/usr/lib/postgresql/*/bin``; without them the harness fails with
the command that installs them, never silently.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "AnswerDropper",
    "PostgresServer",
    "ServerUnavailable",
    "find_binaries",
    "postgres_server",
    "wait_until_accepting",
]

SUPERUSER = "threadstore"
RUN_AS = "nobody"
"""The account the server runs as when the harness runs as root."""
INSTALL_HINT = "apt-get install -y postgresql"


class ServerUnavailable(RuntimeError):
    """The test server could not be found, set up or started; the message says why."""


def find_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: from ``PATH``, else the newest
    Debian ``/usr/lib/postgresql/VERSION/bin``."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for directory in reversed(candidates):
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise ServerUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
        f"/usr/lib/postgresql/*/bin; install them: {INSTALL_HINT}"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in ``root``; :meth:`start`, :meth:`stop`, :meth:`restart`."""

    root: Path
    fsync: bool = False
    """Off for tests: a server crash (``restart -m immediate``) still loses nothing, since
    the WAL reaches the OS before a commit returns; on for benchmarks of durable commits."""
    binaries: Path = field(default_factory=find_binaries)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    port: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def _as_owner(self, *command: str) -> list[str]:
        if os.geteuid() != 0:
            return list(command)
        return ["runuser", "-u", RUN_AS, "--", *command]

    def _run(self, *command: str, timeout: float = 60) -> None:
        result = subprocess.run(
            self._as_owner(*command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ServerUnavailable(
                f"{Path(command[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{tail}"
            )

    def initialise(self) -> None:
        """``initdb`` with a password-protected superuser (SCRAM on 127.0.0.1 only)."""
        self.root.mkdir(parents=True, exist_ok=True)
        secret = self.root / "pwfile"
        secret.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, RUN_AS)
            shutil.chown(secret, RUN_AS)
        secret.chmod(0o600)
        self._run(
            str(self.binaries / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={secret}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            timeout=120,
        )
        secret.unlink()
        (self.data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\n")

    def _pg_ctl(self, *arguments: str) -> None:
        """``pg_ctl`` on this cluster, waiting (up to a minute) for it to finish."""
        self._run(
            str(self.binaries / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            *arguments,
            timeout=90,
        )

    def start(self, attempts: int = 5) -> None:
        """Start on a free port (``port`` if set) and wait until it accepts connections."""
        for attempt in range(attempts):
            port = self.port or _free_port()
            settings = [
                f"-p {port}",
                "-c listen_addresses=127.0.0.1",
                "-c unix_socket_directories=''",
                f"-c fsync={'on' if self.fsync else 'off'}",
                "-c max_connections=200",
                "-c shared_buffers=32MB",
            ]
            try:
                self._pg_ctl("-o", " ".join(settings), "start")
            except ServerUnavailable:
                if self.port or attempt == attempts - 1:
                    raise
                continue  # the port was taken meanwhile: try another
            self.port = port
            return

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("-m", mode, "stop")

    def restart(self, mode: str = "immediate") -> None:
        """Restart on the same port; ``immediate`` is a crash: no clean shutdown of clients."""
        self._pg_ctl("-m", mode, "restart")

    def url(
        self,
        database: str = "postgres",
        *,
        user: str = SUPERUSER,
        password: str | None = None,
        scheme: str = "postgresql",
        port: int | None = None,
        **options: str,
    ) -> str:
        """A URL for ``database`` as ``user`` (the superuser's password by default), on
        the server's port or another (a proxy's)."""
        secret = self.password if password is None else password
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in options.items())
        netloc = f"{quote(user, safe='')}:{quote(secret, safe='')}@127.0.0.1:{port or self.port}"
        base = f"{scheme}://{netloc}"
        return f"{base}/{database}" + (f"?{query}" if query else "")

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """A superuser connection to ``database``, in autocommit."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname=database,
            autocommit=True,
        )

    def admin(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, each in its own transaction (autocommit)."""
        with self.connect(database) as connection:
            for statement in statements:
                connection.execute(statement.encode())

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; returns its name."""
        name = name or f"db_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name


@contextlib.contextmanager
def postgres_server(*, fsync: bool = False) -> Iterator[PostgresServer]:
    """Set up and start a server in a new temporary directory; stop and delete it after."""
    root = Path(tempfile.mkdtemp(prefix="threadstore-pg-"))
    os.chmod(root, 0o755)  # the server's account must reach its data directory  # noqa: S103
    server = PostgresServer(root / "cluster", fsync=fsync)
    try:
        server.initialise()
        server.start()
        yield server
    finally:
        with contextlib.suppress(ServerUnavailable, subprocess.TimeoutExpired):
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def wait_until_accepting(server: PostgresServer, timeout: float = 30) -> None:
    """Block until the server answers a query (after a restart)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            server.admin("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class AnswerDropper:
    """A TCP proxy on 127.0.0.1 in front of a server that can lose one answer.

    :meth:`arm` makes it pass the next statement a client sends (the one after
    ``skip`` more, or, with ``on_commit=True``, the next ``COMMIT``) to the server, then
    cut that connection before the server's answer reaches the client: the write is
    done, its acknowledgement lost, exactly as when a network drops after COMMIT.
    """

    _STATEMENTS = (b"Q", b"P", b"B")  # simple query, parse, bind: a statement goes out

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed: str | None = None
        self._skip = 0
        self.dropped = 0
        self.statements = 0
        """Statements clients sent through the proxy (round trips, for one at a time)."""
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, *, on_commit: bool = False, skip: int = 0) -> None:
        with self._lock:
            self._armed = "commit" if on_commit else "next"
            self._skip = skip

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            with self._lock:
                self._open += [client, server]
            victim = threading.Event()
            threading.Thread(
                target=self._pump_up, args=(client, server, victim), daemon=True
            ).start()
            threading.Thread(
                target=self._pump_down, args=(server, client, victim), daemon=True
            ).start()

    def _pump_up(
        self, client: socket.socket, server: socket.socket, victim: threading.Event
    ) -> None:
        started = False
        while chunk := self._receive(client):
            with self._lock:
                wanted = self._armed == "next" or (self._armed == "commit" and b"COMMIT" in chunk)
                sent = started and chunk[:1] in self._STATEMENTS
                self.statements += sent
                if sent and wanted:
                    if self._skip:
                        self._skip -= 1
                    else:
                        self._armed = None
                        victim.set()
            started = True
            try:
                server.sendall(chunk)
            except OSError:
                break
        _shut(server)

    def _pump_down(
        self, server: socket.socket, client: socket.socket, victim: threading.Event
    ) -> None:
        while chunk := self._receive(server):
            if victim.is_set():
                with self._lock:
                    self.dropped += 1
                break
            try:
                client.sendall(chunk)
            except OSError:
                break
        _shut(client)
        _shut(server)

    @staticmethod
    def _receive(sock: socket.socket) -> bytes:
        try:
            return sock.recv(65536)
        except OSError:
            return b""

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
