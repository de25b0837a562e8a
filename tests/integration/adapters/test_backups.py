"""Backups taken while a sequencer writes restore into a fresh store that verifies."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from localpay.adapters.keystore import KeyStore
from localpay.adapters.sql.backups import BackupError, backup, restore
from localpay.bootstrap import open_store
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.verify import verify_city
from localpay.sim.bench import BenchCity

CITY = "backupcity"


def _other_url(store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/restored.db"
    make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
    return make()


def test_a_backup_taken_under_load_restores_and_verifies(
    store_url: str, keys: KeyStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = open_store(store_url)
    ledgers = Ledgers(store, keys, lambda: int(time.time() * 1000))
    city = BenchCity(ledgers, CITY)
    city.set_up(wallets=50, merchants=3)
    payments = city.payments(3000)
    writer = threading.Thread(target=ledgers.execute_many, args=(CITY, payments, 120))
    writer.start()
    time.sleep(0.05)  # the sequencer is committing while the backup runs
    archive = tmp_path / "store.backup"
    backup(store_url, archive)
    writer.join()
    ledgers.close()

    target = _other_url(store_url, tmp_path, request)
    fresh = open_store(target)
    cities = fresh.cities()
    fresh.close()
    restore(target, archive, cities)
    restored = open_store(target)
    report = verify_city(restored, CITY)
    assert report.ok, report.problems
    assert report.txs > 0
    with pytest.raises(BackupError, match="already holds"):
        restore(target, archive, restored.cities())
    restored.close()
    store.close()


def test_a_backup_of_another_kind_or_no_file_is_refused(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path}/t.db"
    fake = tmp_path / "dump"
    fake.write_bytes(b"PGDMP" + bytes(100))
    with pytest.raises(BackupError, match="postgres backup"):
        restore(target, fake, [])
    with pytest.raises(BackupError, match="no backup file"):
        restore(target, tmp_path / "missing", [])
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(BackupError, match="neither"):
        restore(target, tmp_path / "junk", [])


def test_the_cli_backs_up_and_refuses_to_overwrite(tmp_path: Path, keys: KeyStore) -> None:
    url = f"sqlite:///{tmp_path}/live.db"
    store = open_store(url)
    ledgers = Ledgers(store, keys, lambda: int(time.time() * 1000))
    BenchCity(ledgers, CITY).set_up(wallets=2, merchants=1)
    ledgers.close()
    store.close()
    cli = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", url]
    made = subprocess.run(
        [*cli, "backup", "--out", str(tmp_path / "b")], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    again = subprocess.run(
        [*cli, "backup", "--out", str(tmp_path / "b")], capture_output=True, text=True, check=False
    )
    assert again.returncode == 1 and "exists" in again.stderr
    into = [sys.executable, "-m", "localpay.entrypoints.cli", "--db", f"sqlite:///{tmp_path}/r.db"]
    restored = subprocess.run(
        [*into, "restore", str(tmp_path / "b")], capture_output=True, text=True, check=False
    )
    assert restored.returncode == 0, restored.stderr
    verified = subprocess.run([*into, "verify"], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr


def _fill(store_url: str, mib: int) -> None:
    """Make the store big enough that writing its backup takes a while (random bytes:
    pg_dump's compression cannot shrink them)."""
    store = open_store(store_url)
    insert = (
        "INSERT INTO idempotency (scope, key, request_hash, status, body, media_type,"
        " created_ms) VALUES (?, ?, '', 200, ?, 'application/json', 0)"
    )
    store.sql_batch([(insert, ("fill", str(n), os.urandom(1 << 20))) for n in range(mib)])
    store.close()


def test_a_backup_is_private_from_its_first_byte(store_url: str, tmp_path: Path) -> None:
    """It holds password hashes and TOTP secrets: never readable by others, not even while
    it is written. A watcher records the file's mode from the moment it exists."""
    _fill(store_url, 24)
    out = tmp_path / "private.backup"
    modes: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                modes.add(os.stat(out).st_mode & 0o777)
            except FileNotFoundError:
                continue

    watcher = threading.Thread(target=watch)
    usual = os.umask(0o022)  # the common umask: a file made without care is world-readable
    watcher.start()
    try:
        backup(store_url, out)
    finally:
        done.set()
        watcher.join()
        os.umask(usual)
    assert modes == {0o600}
    assert out.stat().st_size > 24 << 20
