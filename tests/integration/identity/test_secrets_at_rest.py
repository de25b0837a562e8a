"""Secrets at rest, on both stores: the key folder's seeds and the store's TOTP secrets are
sealed under a master key kept elsewhere. A copy without the master key opens nothing; a
wrong master key is refused by name; `localpay keys rotate-master` re-seals everything,
finishes after a crash when run again, and the server serves on with the new key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import argon2
import httpx
import pyotp
import pytest

from localpay.adapters.clock import now_ms
from localpay.adapters.keystore import KeyStore, write_key_file
from localpay.adapters.secrets import (
    ENV_FILE,
    ENV_KEY,
    MasterKey,
    MasterKeyError,
    MasterKeyMismatch,
    MasterKeyMissing,
    SealBroken,
    master_key_from_environment,
    seal_of,
    write_master_key_file,
)
from localpay.adapters.sql.identity import SqlIdentityRepository
from localpay.bootstrap import Container, master_key, open_identity, open_store
from localpay.domain import commands as c
from localpay.domain.errors import Refused
from localpay.ledger.signatures import sign_command
from localpay.services.cities.ledgers import Ledgers, new_id
from localpay.services.identity.service import AuthError
from localpay.sim.bench import BenchCity
from localpay.testing.postgres import PgServer
from localpay.testing.servers import live_container

CITY = "sealcity"
PASSWORD = "long-enough-pass"
FAST = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class Town:
    url: str
    folder: Path
    keys: Path
    master: MasterKey
    bench: BenchCity
    totp_secret: str
    elsewhere: Path  # where master key files may live: not the data folder

    def key_store(self, master: MasterKey | None = None) -> KeyStore:
        return KeyStore(self.keys, master or self.master)


@pytest.fixture
def town(store_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Town:
    """A city (operator and officials' keys in the key folder) with an auditor who has
    TOTP and a maker who holds a custodial official key."""
    master = master_key_from_environment()
    keys = KeyStore(tmp_path / "keys", master)
    store = open_store(store_url)
    ledgers = Ledgers(store, keys, now_ms)
    bench = BenchCity(ledgers, CITY)
    bench.set_up(wallets=2, merchants=1)
    ledgers.close()
    identity = open_identity(store, now_ms, FAST, master=master)
    auditor = identity.create_user(CITY, "city_auditor", "auditor", PASSWORD)
    secret = identity.enroll_totp(auditor.id)
    identity.create_user(CITY, "city_maker", "maker", PASSWORD, official_key="official-maker")
    store.close()
    elsewhere = tmp_path_factory.mktemp("master-keys")
    return Town(store_url, tmp_path, tmp_path / "keys", master, bench, secret, elsewhere)


def _raw_store_bytes(town: Town, request: pytest.FixtureRequest) -> bytes:
    """Every byte the store keeps on disk: the SQLite file and its WAL, or the PostgreSQL
    server's data directory after a checkpoint."""
    if town.url.startswith("sqlite:///"):
        files = sorted(town.folder.glob("ledger.db*"))
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        with server.connect() as conn:
            conn.execute("CHECKPOINT")
        files = [p for p in server.datadir.rglob("*") if p.is_file()]
    return b"".join(_read(p) for p in files if not p.name.endswith(".lease"))


def _read(path: Path) -> bytes:
    """A file's bytes; none if the server removed it meanwhile (the throwaway server is
    shared by the worker's other tests, whose temporary files come and go)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_a_key_folder_and_a_store_copied_without_the_master_key_open_nothing(
    town: Town, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = town.key_store()
    names = keys.names(CITY)
    assert {"operator", "official-maker", "official-checker"} <= set(names)
    fresh = keys.create(CITY, "merchant-fresh")
    names.append("merchant-fresh")
    # The bytes as written, before anything opens them (opening seals a plain file).
    raws = {name: (town.keys / CITY / f"{name}.key").read_bytes() for name in names}
    assert bytes(fresh) == bytes(keys.load(CITY, "merchant-fresh"))
    for name, raw in raws.items():
        seed = bytes(keys.load(CITY, name))
        assert seed not in raw and seed.hex().encode() not in raw, name
        assert seal_of(raw) is not None
    raw_store = _raw_store_bytes(town, request)
    assert town.totp_secret.encode() not in raw_store
    # The copy, opened elsewhere: with another master key, or none at all.
    other = MasterKey.generate(1, "another machine's master key")
    for name in names:
        with pytest.raises(MasterKeyMismatch):
            town.key_store(other).load(CITY, name)
    copy = open_store(town.url)
    try:
        with pytest.raises(MasterKeyMismatch):
            open_identity(copy, now_ms, FAST, master=other)
        with pytest.raises(MasterKeyMismatch):
            SqlIdentityRepository(copy, other).credentials(CITY, "auditor")
    finally:
        copy.close()
    monkeypatch.delenv(ENV_KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    with pytest.raises(MasterKeyMissing):
        KeyStore(town.keys).load(CITY, "operator")
    copy = open_store(town.url)
    try:
        with pytest.raises(MasterKeyMissing):
            open_identity(copy, now_ms, FAST)
    finally:
        copy.close()


def test_a_sealed_secret_moved_to_another_name_or_row_does_not_open(town: Town) -> None:
    keys = town.key_store()
    moved = (town.keys / CITY / "official-maker.key").read_bytes()
    (town.keys / CITY / "official-extra.key").write_bytes(moved)
    with pytest.raises(SealBroken):
        keys.load(CITY, "official-extra")
    store = open_store(town.url)
    try:
        sealed = store.sql("SELECT totp_sealed FROM principals WHERE username = 'auditor'")[0][0]
        store.sql("UPDATE principals SET totp_sealed = ? WHERE username = 'maker'", (sealed,))
        records = SqlIdentityRepository(store, town.master)
        with pytest.raises(SealBroken):
            records.credentials(CITY, "maker")
    finally:
        store.close()


def test_a_wrong_or_missing_master_key_fails_the_start_naming_the_problem(
    town: Town, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV_KEY, f"v2:{os.urandom(32).hex()}")
    with pytest.raises(MasterKeyMismatch) as wrong:
        Container(town.url, str(town.keys))
    assert str(wrong.value) == (
        f"the key folder {town.keys} was sealed under master key v1; {ENV_KEY} holds v2"
    )
    done = _cli(town, "serve", "--port", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {wrong.value}"], done.stderr
    # Nor does any other command seal a new secret under the wrong key.
    add = ("user", "add", "--city", CITY, "--role", "city_maker", "--username", "newbie")
    done = _cli(town, *add, "--password-stdin", "--totp", stdin=PASSWORD + "\n")
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [f"error: {wrong.value}"]
    assert "official-newbie" not in town.key_store().names(CITY)
    monkeypatch.delenv(ENV_KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    done = _cli(town, "serve", "--port", "1")
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "no master key" in done.stderr and "Traceback" not in done.stderr


def test_a_master_key_file_beside_the_data_or_readable_by_others_is_refused(town: Town) -> None:
    # The data folder of a SQLite store is its file's; a PostgreSQL store's is ./data.
    sqlite = town.url.startswith("sqlite:///")
    for folder in (town.keys, town.folder) if sqlite else (town.keys,):
        beside = folder / "master.key"
        beside.write_text("v1:" + "ab" * 32 + "\n")
        beside.chmod(0o600)
        with pytest.raises(Refused, match="is inside"):
            master_key(town.url, str(town.keys), str(beside))
        beside.unlink()
    inside = _cli(town, "keys", "new-master", "--out", str(town.keys / "m.key"))
    assert inside.returncode == 1 and "is inside" in inside.stderr, inside.stderr
    assert not (town.keys / "m.key").exists()
    made = _cli(
        town, "keys", "new-master", "--out", str(town.elsewhere / "m.key"), "--version", "3"
    )
    assert made.returncode == 0 and "master key v3" in made.stdout, made.stderr
    assert (town.elsewhere / "m.key").stat().st_mode & 0o777 == 0o600
    assert master_key_from_environment(town.elsewhere / "m.key").version == 3
    again = _cli(town, "keys", "new-master", "--out", str(town.elsewhere / "m.key"))
    assert again.returncode == 2 and "never overwritten" in again.stderr, again.stderr
    loose = town.elsewhere / "loose.key"
    write_master_key_file(loose, MasterKey.generate(1, "x"))
    loose.chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        master_key(town.url, str(town.keys), str(loose))


def test_rotate_master_reseals_everything_and_the_old_key_opens_nothing(town: Town) -> None:
    before = {n: bytes(town.key_store().load(CITY, n)) for n in town.key_store().names(CITY)}
    new_file = town.elsewhere / "master-v2.key"
    done = _cli(town, "keys", "rotate-master", "--new-key-file", str(new_file))
    assert done.returncode == 0, done.stderr
    assert f"re-sealed {len(before)} key files and 1 TOTP secrets under master key v2" in (
        done.stdout
    ), done.stdout
    new = master_key_from_environment(new_file)
    assert new.version == 2
    for name, seed in before.items():
        assert bytes(town.key_store(new).load(CITY, name)) == seed
        with pytest.raises(MasterKeyMismatch):
            town.key_store().load(CITY, name)
    _assert_totp_only_opens_under(town, new)
    status = _cli(town, "--master-key", str(new_file), "keys", "status", "--json")
    assert status.returncode == 0, status.stderr
    label = f"v2 ({new.key_id})"
    assert f'"{label}": {len(before)}' in status.stdout and f'"{label}": 1' in status.stdout
    assert new.key_id in status.stdout and "v1 (" not in status.stdout
    again = _cli(town, "keys", "rotate-master", "--new-key-file", str(new_file))
    assert again.returncode == 0 and "re-sealed 0 key files and 0 TOTP" in again.stdout


def test_a_rotation_killed_midway_is_finished_by_running_it_again(town: Town) -> None:
    names = town.key_store().names(CITY)
    # A FIFO among the key files: the rotation blocks on it after re-sealing the files
    # sorted before it, and is killed there, as a crash would stop it.
    fifo = town.keys / CITY / "official-mid.key"
    os.mkfifo(fifo)
    new_file = town.elsewhere / "master-v2.key"
    new = MasterKey.generate(2, "the new master key")
    write_master_key_file(new_file, new)
    rotating = _cli_process(town, "keys", "rotate-master", "--new-key-file", str(new_file))
    first = sorted(n for n in names if n < "official-mid")
    try:
        deadline = time.monotonic() + 60
        while not all(_sealed_under(town, n) == new.key_id for n in first):
            assert rotating.poll() is None, rotating.communicate()
            assert time.monotonic() < deadline, "the rotation did not reach the FIFO"
            time.sleep(0.05)
        time.sleep(0.1)  # blocked on the FIFO now
        assert rotating.poll() is None
    finally:
        rotating.send_signal(signal.SIGKILL)
        rotating.communicate()
    fifo.unlink()
    (town.keys / CITY / "operator.key.deadbeef.new").write_bytes(b"half-written")
    assert any(_sealed_under(town, n) == town.master.key_id for n in names)
    done = _cli(town, "keys", "rotate-master", "--new-key-file", str(new_file))
    assert done.returncode == 0, done.stderr
    assert f"re-sealed {len(names) - len(first)} key files and 1 TOTP" in done.stdout
    assert all(_sealed_under(town, n) == new.key_id for n in names)
    assert not list((town.keys / CITY).glob("*.new"))
    _assert_totp_only_opens_under(town, new)


def test_the_server_serves_after_a_rotation_signing_in_with_totp_and_paying(
    town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_file = town.elsewhere / "master-v2.key"
    with live_container(town.url, town.keys):  # not while serving: the leases are taken
        refused = _cli(town, "keys", "rotate-master", "--new-key-file", str(new_file))
    assert refused.returncode == 1 and "stop the server" in refused.stderr, refused.stderr
    assert not new_file.exists() and _sealed_under(town, "operator") == town.master.key_id
    done = _cli(town, "keys", "rotate-master", "--new-key-file", str(new_file))
    assert done.returncode == 0, done.stderr
    monkeypatch.delenv(ENV_KEY)
    monkeypatch.setenv(ENV_FILE, str(new_file))
    with live_container(town.url, town.keys) as (base, _, _), httpx.Client(base_url=base) as http:
        login = {"city": CITY, "username": "auditor", "password": PASSWORD}
        refused = http.post("/v1/auth/login", json=login)
        assert refused.status_code == 401, refused.text
        code = pyotp.TOTP(town.totp_secret).now()
        signed_in = http.post("/v1/auth/login", json={**login, "totp": code})
        assert signed_in.status_code == 200, signed_in.text
        paid = http.post(
            f"/v1/cities/{CITY}/payments",
            content=_payment(town),
            headers={"Idempotency-Key": new_id()},
        )
        assert paid.status_code == 201 and paid.json()["code"] == "ok", paid.text
        maker = http.post("/v1/auth/login", json={**login, "username": "maker"}).json()
        proposed = http.post(
            f"/v1/cities/{CITY}/proposals",
            json={"kind": "mint", "params": {"program": "general", "amount": 5, "won_ref": "r"}},
            headers={"Idempotency-Key": new_id(), "Authorization": f"Bearer {maker['token']}"},
        )
        assert proposed.status_code == 201 and len(proposed.json()["signed_by"]) == 1, proposed.text


def test_plain_secrets_of_an_older_version_are_sealed_at_start(town: Town) -> None:
    legacy = KeyStore(town.keys, town.master)
    plain_path = town.keys / CITY / "official-legacy.key"
    import nacl.signing  # noqa: PLC0415

    seed = nacl.signing.SigningKey.generate()
    write_key_file(plain_path, seed)
    store = open_store(town.url)
    try:
        store.sql(
            "UPDATE principals SET totp_sealed = NULL, totp_secret = ? WHERE username = ?",
            (town.totp_secret, "auditor"),
        )
    finally:
        store.close()
    container = Container(town.url, str(town.keys))
    try:
        assert seal_of(plain_path.read_bytes()) is not None
        assert bytes(legacy.load(CITY, "official-legacy")) == bytes(seed)
        rows = container.store.sql(
            "SELECT totp_secret, totp_sealed FROM principals WHERE username = 'auditor'"
        )
        assert rows[0][0] is None and rows[0][1] is not None
        with pytest.raises(AuthError):
            container.identity.login(CITY, "auditor", PASSWORD)
        code = pyotp.TOTP(town.totp_secret).now()
        assert container.identity.login(CITY, "auditor", PASSWORD, code).startswith("lps_")
    finally:
        container.close()


# -- helpers ---------------------------------------------------------------------------------


def _sealed_under(town: Town, name: str) -> str | None:
    seal = seal_of((town.keys / CITY / f"{name}.key").read_bytes())
    return seal.key_id if seal else None


def _assert_totp_only_opens_under(town: Town, new: MasterKey) -> None:
    store = open_store(town.url)
    try:
        found = SqlIdentityRepository(store, new).credentials(CITY, "auditor")
        assert found is not None and found.totp_secret == town.totp_secret
        with pytest.raises(MasterKeyMismatch):
            SqlIdentityRepository(store, town.master).credentials(CITY, "auditor")
    finally:
        store.close()


def _payment(town: Town) -> bytes:
    wallet, key = next(iter(town.bench.wallet_keys.items()))
    pay = c.Pay(id=new_id(), city=CITY, wallet=wallet, merchant="m-00000", amount=100, evidence="")
    return sign_command(pay, [key])


def _argv(town: Town, *args: str) -> list[str]:
    return [sys.executable, "-m", "localpay.entrypoints.cli", "--keys", str(town.keys), *args]


def _env(town: Town) -> dict[str, str]:
    return {**os.environ, "LOCALPAY_DB": town.url}


def _cli(town: Town, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _argv(town, *args),
        input=stdin,
        env=_env(town),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _cli_process(town: Town, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _argv(town, *args),
        env=_env(town),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(autouse=True)
def _no_stray_master_key_file(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV_FILE, raising=False)
    yield
