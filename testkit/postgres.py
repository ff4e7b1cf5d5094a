"""A throwaway PostgreSQL cluster for the test session: initdb into a temporary folder, a free
127.0.0.1 port and a unix socket folder inside it, `pg_ctl start -w`; a fresh database per
test (`create_database`); stopped and removed at the end (`stop`).

CREATE DATABASE copies the template (about 0.3 s of the server's work here, whatever the
strategy): with `start(ahead=N)` a thread keeps N empty databases made in advance, so a test
takes one at once while the server makes the next on the other core (the tests' cluster does
this; the benchmarks, which count the server's CPU, do not).

Logins: the cluster's superuser `postgres` is trusted (from 127.0.0.1 only, to create
databases); the bot's user logs in with a password (scram-sha-256), as in a deployment, so a
wrong password is refused. initdb and the server refuse to run as root: as root they run as
the `postgres` system user (the Debian package's), created when missing.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

#: The bot's login in the test cluster (not a secret: a throwaway server on loopback).
USER = "bot"
PASSWORD = "bot-test-password-0123"
SUPERUSER = "postgres"
#: The system user the server runs as when the tests run as root.
OS_USER = "postgres"
INSTALL_HINT = (
    "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install -y "
    "postgresql (Debian/Ubuntu), or set TEST_POSTGRES=0 to skip the PostgreSQL cases"
)


class PostgresUnavailable(Exception):
    """The cluster cannot be started; the message is one line saying why and what to do."""


def find_bindir() -> Path:
    """The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, else the PATH's."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise PostgresUnavailable(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _server_user() -> str | None:
    """None when not root (the server runs as this user); else the unprivileged user it runs as,
    created (a system user, no login) when missing."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise PostgresUnavailable(
                f"the tests run as root, initdb refuses root, and the user {OS_USER!r} could not"
                f" be created ({made.stderr.strip() or made.returncode}): run the tests as a "
                "non-root user, or set TEST_POSTGRES=0"
            ) from None
    return OS_USER


class PostgresCluster:
    def __init__(self, root: Path, bindir: Path, port: int, os_user: str | None) -> None:
        self.root = root
        self.bindir = bindir
        self.port = port
        self.os_user = os_user
        self.data = root / "data"
        self._count = itertools.count(1)
        #: Databases made in advance (their names), or the error that stopped making them.
        self._made: queue.Queue[str | PostgresUnavailable] = queue.Queue()
        self._maker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wanted = threading.Semaphore(0)

    def _as_server_user(self, *command: str | Path) -> list[str]:
        args = [str(c) for c in command]
        if self.os_user is None:
            return args
        return ["runuser", "-u", self.os_user, "--", *args]

    def _check(self, what: str, command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["?"]
            raise PostgresUnavailable(f"{what} failed ({last[0]}); see {self.root}")

    @classmethod
    def start(cls, *, ahead: int = 0) -> PostgresCluster:
        """Start a cluster; `ahead` > 0 keeps that many empty databases made in advance."""
        bindir = find_bindir()
        os_user = _server_user()
        root = Path(tempfile.mkdtemp(prefix="pgtest-"))
        cluster = cls(root, bindir, _free_port(), os_user)
        try:
            cluster._init_and_start()
        except BaseException:
            cluster.stop()
            raise
        if ahead > 0:
            for _ in range(ahead):
                cluster._wanted.release()
            cluster._maker = threading.Thread(
                target=cluster._make_ahead, name="pg-databases-ahead", daemon=True
            )
            cluster._maker.start()
        return cluster

    def _make_ahead(self) -> None:
        while True:
            self._wanted.acquire()
            if self._stopping.is_set():
                return
            try:
                self._made.put(self._new_database())
            except PostgresUnavailable as exc:
                self._made.put(exc)
                return

    def _init_and_start(self) -> None:
        sockets = self.root / "sockets"
        sockets.mkdir()
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            for path in (self.root, sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._check(
            "initdb",
            self._as_server_user(
                self.bindir / "initdb",
                "-D",
                self.data,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ),
        )
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {SUPERUSER} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n",
            encoding="utf-8",
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            # A throwaway cluster: durability off, for speed.
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{sockets}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\n"
            )
        self._check(
            "pg_ctl start",
            self._as_server_user(
                self.bindir / "pg_ctl",
                "-D",
                self.data,
                "-l",
                self.root / "server.log",
                "-w",
                "-t",
                "60",
                "start",
            ),
        )
        self.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")

    def psql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement as the superuser (over TCP: trusted from 127.0.0.1)."""
        self._check(
            "psql",
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                statement,
            ],
        )

    def url(self, database: str, *, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database owned by the bot's user; its URL (with the password)."""
        if self._maker is None or prefix != "test":
            return self.url(self._new_database(prefix))
        made = self._made.get()
        if isinstance(made, PostgresUnavailable):
            raise made
        self._wanted.release()  # make the next one meanwhile
        return self.url(made)

    def _new_database(self, prefix: str = "test") -> str:
        name = f"{prefix}_{next(self._count)}"  # itertools.count: safe from both threads
        self.psql(f'CREATE DATABASE "{name}" OWNER {USER}')
        return name

    def cpu_seconds(self) -> float:
        """CPU (utime + stime) so far of the server's live processes: the postmaster and its
        children (backends, walwriter...), for benchmarks; 0 when it is not running."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat, encoding="ascii") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            pid = int(stat.split("/")[2])
            # after "pid (comm)": state=0 ppid=1 ... utime=11 stime=12
            if pid == postmaster or int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        """Stop the server (fast: nothing to keep) and remove its folder."""
        if self._maker is not None:
            self._stopping.set()
            self._wanted.release()
            self._maker.join(timeout=60)
            self._maker = None
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(OSError):
                subprocess.run(
                    self._as_server_user(
                        self.bindir / "pg_ctl",
                        "-D",
                        self.data,
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ),
                    capture_output=True,
                    timeout=60,
                )
        shutil.rmtree(self.root, ignore_errors=True)
