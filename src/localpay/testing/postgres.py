"""A throwaway PostgreSQL server for tests and benchmarks, from Debian's binaries.

* binaries: $LOCALPAY_PG_BIN if set, else Debian's /usr/lib/postgresql/15/bin,
  else the newest /usr/lib/postgresql/*/bin, else initdb/pg_ctl on PATH. None
  found: starting FAILS (never skips) saying what to install.
* initdb into a fresh temp dir (UTF8, locale C, SCRAM password auth for a
  superuser ``localpay`` with a random password), then ``pg_ctl start`` on
  127.0.0.1 and a free port, unix socket in the temp dir, fsync on (the defaults
  otherwise). A port lost to a race is retried with another one.
* as root, every server command runs as the ``postgres`` OS user through
  ``runuser -u postgres --`` (PostgreSQL refuses to run as root) and the temp dir
  is chowned to it; as any other user, the commands run as that user.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

PG_BIN_ENV = "LOCALPAY_PG_BIN"
DEBIAN_PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SUPERUSER = "localpay"
PG_OS_USER = "postgres"  # the OS account servers run as when the tests run as root
START_ATTEMPTS = 5


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are; fails the requesting test if they are nowhere."""

    def usable(folder: Path) -> bool:
        return (folder / "initdb").is_file() and (folder / "pg_ctl").is_file()

    explicit = os.environ.get(PG_BIN_ENV)
    if explicit:
        if usable(Path(explicit)):
            return Path(explicit)
        pytest.fail(f"{PG_BIN_ENV}={explicit}: no initdb and pg_ctl there", pytrace=False)

    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", folder.parent.name))

    candidates = [DEBIAN_PG_BIN]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if usable(folder):
            return folder
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in "
        f"{DEBIAN_PG_BIN}, /usr/lib/postgresql/*/bin or PATH: install Debian's postgresql "
        f"package (make system-deps) or set {PG_BIN_ENV}. The postgres store tests never skip.",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running throwaway PostgreSQL server and how to reach it."""

    bindir: Path
    root: Path
    port: int = 0
    user: str = PG_SUPERUSER
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    host: str = "127.0.0.1"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.url(dbname), autocommit=True)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- process -----------------------------------------------------------------------

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if os.geteuid() == 0:
            command = ["runuser", "-u", PG_OS_USER, "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        done = subprocess.run(
            command,
            check=False,
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"{self._log_tail()}",
                pytrace=False,
            )
        return done

    def _log_tail(self) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(lines[-20:])

    def initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        self._chown(pwfile)
        try:
            self._run(
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.datadir),
                "--username",
                self.user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink()
        # A unix socket path must fit in 107 bytes; under a long $TMPDIR, TCP only.
        sockets = str(self.root) if len(str(self.root)) < 90 else ""
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# localpay test server\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{sockets}'\n"
                "fsync = on\n"
                "synchronous_commit = on\n"
                "max_connections = 200\n"
            )

    def start(self) -> None:
        for _ in range(START_ATTEMPTS):
            self.port = _free_port()
            done = self._run(
                str(self.bindir / "pg_ctl"),
                "start",
                "--pgdata",
                str(self.datadir),
                "--log",
                str(self.logfile),
                "--wait",
                "--timeout=60",
                "-o",
                f"-p {self.port}",
                check=False,
            )
            if done.returncode == 0:
                return
            if "could not bind" not in self._log_tail():  # anything but a lost port race
                break
        pytest.fail(
            f"PostgreSQL did not start:\n{done.stdout}{done.stderr}{self._log_tail()}",
            pytrace=False,
        )

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            stopped = self._run(
                str(self.bindir / "pg_ctl"),
                "stop",
                "--pgdata",
                str(self.datadir),
                "--mode=fast",
                "--wait",
                check=False,
            )
            if stopped.returncode != 0:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "stop",
                    "--pgdata",
                    str(self.datadir),
                    "--mode=immediate",
                    check=False,
                )

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, user=PG_OS_USER)


@contextmanager
def running_server(prefix: str = "localpay-pg-") -> Iterator[PgServer]:
    """A fresh server in a new temp dir, started; stopped and deleted afterwards."""
    bindir = pg_bindir()
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("running as root needs runuser (util-linux) to start PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = PgServer(bindir=bindir, root=root)
    try:
        server._chown(root)
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """For benchmarks: the URL of an empty database on a fresh server (fsync on: the
    benchmark measures durable commits, as production would)."""
    with running_server("localpay-bench-pg-") as server:
        yield server.url(server.create_database())
