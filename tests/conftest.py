"""Shared fixtures: every store test runs on SQLite and on a throwaway PostgreSQL.

The PostgreSQL server (fixture ``pg_server``, one per pytest process, so one per
xdist worker) is started on first use and stopped at the end of the session:

* binaries: $LOCALPAY_PG_BIN if set, else Debian's /usr/lib/postgresql/15/bin,
  else the newest /usr/lib/postgresql/*/bin, else initdb/pg_ctl on PATH. None
  found: every postgres test FAILS (never skips) saying what to install.
* initdb into a fresh temp dir (UTF8, locale C, SCRAM password auth for a
  superuser ``localpay`` with a random password), then ``pg_ctl start`` on
  127.0.0.1 and a free port, unix socket in the temp dir, fsync on (the defaults
  otherwise). A port lost to a race is retried with another one.
* as root, every server command runs as the ``postgres`` OS user through
  ``runuser -u postgres --`` (PostgreSQL refuses to run as root) and the temp dir
  is chowned to it; as any other user, the commands run as that user.

``fresh_pg_url()`` makes a new empty database on it and returns its URL; the
databases a test made are dropped after it. ``store_url`` gives each test a fresh
empty store, once on SQLite and once on PostgreSQL; ``store`` opens it.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain.policy import Policy
from localpay.ledger.store import Store

PG_BIN_ENV = "LOCALPAY_PG_BIN"
DEBIAN_PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SUPERUSER = "localpay"
PG_OS_USER = "postgres"  # the OS account servers run as when the tests run as root
START_ATTEMPTS = 5


def _pg_bindir() -> Path:
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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """This pytest process's own PostgreSQL server, started on first use."""
    bindir = _pg_bindir()
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("running as root needs runuser (util-linux) to start PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix=f"localpay-pg-{worker_id}-"))
    server = PgServer(bindir=bindir, root=root)
    try:
        server._chown(root)
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_pg_url(pg_server: PgServer) -> Iterator[Callable[[], str]]:
    """A factory of new empty databases on the test server; each call gives a URL."""
    made: list[str] = []

    def make() -> str:
        name = pg_server.create_database()
        made.append(name)
        return pg_server.url(name)

    yield make
    for name in made:
        pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store's URL: once a SQLite file, once a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
    return make()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    """Key files for the test, in its own directory (never ./data)."""
    return KeyStore(tmp_path / "keys")


@dataclass
class DemoChain:
    """A small simulated Gimpo chain (3 days) and a payment in its middle."""

    url: str
    store: Store
    pay_seq: int
    pay_height: int


DEMO_CITY = "gimpo"


@pytest.fixture
def demo_chain(store_url: str, keys: KeyStore) -> Iterator[DemoChain]:
    from localpay.services.demo import SimClock, run_demo  # noqa: PLC0415
    from localpay.services.ledgers import Ledgers  # noqa: PLC0415
    from localpay.services.verify import verify_city  # noqa: PLC0415

    store = open_store(store_url)
    clock = SimClock(1_780_000_000_000)
    ledgers = Ledgers(store, keys, clock, max_clock_skew_ms=None)  # simulated days
    run_demo(ledgers, clock, DEMO_CITY, "김포시", citizens=30, merchants=4, days=3, seed=5)
    ledgers.close()
    pays = store.sql(
        "SELECT seq, height FROM txs WHERE city = ? AND kind = 'pay' ORDER BY seq", (DEMO_CITY,)
    )
    seq, height = pays[len(pays) // 2]
    assert verify_city(store, DEMO_CITY).ok
    yield DemoChain(store_url, store, seq, height)
    store.close()


def policy(name: str = "p", **overrides: object) -> Policy:
    """A program policy that allows everything and bounds nothing, but for `overrides`."""
    base: dict[str, object] = dict(
        name=name,
        allowed_categories=[],
        denied_categories=[],
        areas=[],
        revenue_cap=0,
        valid_until="",
        valid_days=0,
        per_payment_cap=0,
        daily_cap=0,
        monthly_cap=0,
        holding_cap=0,
        transferable=False,
        refundable=False,
    )
    base.update(overrides)
    return Policy(**base)  # type: ignore[arg-type]
