"""Backups of a whole store, taken while the sequencers keep writing.

SQLite: the online backup API copies a consistent snapshot page by page.
PostgreSQL: pg_dump's custom format, a consistent snapshot (one transaction).
A restore goes only into an empty store of the same kind; `localpay verify` on the
restored store then replays every chain. Key files are not in the store: they are
backed up separately (see docs/operations.md).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Final

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from localpay.domain.errors import Refused

SQLITE_MAGIC: Final = b"SQLite format 3\x00"
PGDUMP_MAGIC: Final = b"PGDMP"


class BackupError(Refused, RuntimeError):
    """The backup or restore cannot be done; says why in one line."""


def _pg_tool(name: str) -> str:
    for folder in (os.environ.get("LOCALPAY_PG_BIN"), "/usr/lib/postgresql/15/bin"):
        if folder and (Path(folder) / name).exists():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install PostgreSQL's client tools or set LOCALPAY_PG_BIN"
        )
    return found


def _pg_args(url: str) -> tuple[str, dict[str, str]]:
    """Connection parameters without the password, which goes in the environment (argv is
    visible to every user of the machine). libpq's own parser: sockets, several hosts,
    percent-encoding and query parameters all mean what they mean to the store."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no message"


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _create_private(out: Path) -> None:
    """Make `out`, empty and readable by its owner only, before a byte is written: a backup
    holds password hashes and TOTP secrets, so it is never readable by others, not even
    while it is being written. Never overwrites (O_EXCL), even a file made a moment ago."""
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{out} exists: choose a new file name") from None
    except OSError as exc:
        raise BackupError(f"cannot create {out}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask: the writers below keep this mode
    finally:
        os.close(fd)


def backup(url: str, out: Path) -> int:
    """Write a backup of the store at `url` to `out`; returns its size in bytes."""
    sqlite = url.startswith("sqlite:///")
    if sqlite and not _sqlite_path(url).exists():
        raise BackupError(f"no SQLite store at {_sqlite_path(url)}")
    pg_dump = None if sqlite else _pg_tool("pg_dump")
    _create_private(out)
    if pg_dump is None:
        path = _sqlite_path(url)
        try:
            # Read-only: a mistyped path must not create an empty store. One step: a
            # stepwise backup restarts on every commit and never ends on a busy store,
            # while WAL readers do not block the writer anyway. The target is the empty
            # private file made above: SQLite writes into it and keeps its mode.
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            target = sqlite3.connect(out)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        except sqlite3.Error as exc:
            out.unlink(missing_ok=True)
            raise BackupError(f"backup failed: {exc}") from None
    else:
        plain, env = _pg_args(url)
        done = subprocess.run(  # pg_dump truncates the private file and writes into it
            [pg_dump, "--format=custom", "--file", str(out), "--dbname", plain],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            out.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {_last_line(done.stderr)}")
    return out.stat().st_size


def _kind_of(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        raise BackupError(f"no backup file {path}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgres"
    raise BackupError(f"{path} is neither a SQLite backup nor a pg_dump archive")


def restore(url: str, path: Path, target_cities: list[str], force: bool = False) -> str:
    """Restore `path` into the empty store at `url`; returns the kind restored."""
    kind = _kind_of(path)
    target = "sqlite" if url.startswith("sqlite:///") else "postgres"
    if kind != target:
        raise BackupError(f"{path} is a {kind} backup; the target store is {target}")
    if target_cities and not force:
        raise BackupError(
            f"the target store already holds {', '.join(target_cities)}: "
            "restore into an empty store"
        )
    if kind == "sqlite":
        try:
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            dest = sqlite3.connect(_sqlite_path(url))
            try:
                source.backup(dest)
            finally:
                dest.close()
                source.close()
        except sqlite3.Error as exc:
            raise BackupError(f"restore failed: {exc}") from None
        return kind
    plain, env = _pg_args(url)
    done = subprocess.run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            "--clean",
            "--if-exists",
            "--dbname",
            plain,
            str(path),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {_last_line(done.stderr)}")
    return kind
