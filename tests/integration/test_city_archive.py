"""A city exported from one store imports into another kind of store and verifies there."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.archive import ArchiveError, export_city, import_city
from localpay.services.demo import SimClock, run_demo
from localpay.services.ledgers import Ledgers, new_id
from localpay.services.verify import verify_city

CITY = "gimpo"


def _other_kind(url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if url.startswith("postgres"):
        return f"sqlite:///{tmp_path}/target.db"
    make: Callable[[], str] = request.getfixturevalue("fresh_pg_url")
    return make()


@pytest.fixture
def archive(store_url: str, keys: KeyStore, tmp_path: Path) -> Path:
    store = open_store(store_url)
    clock = SimClock(1_780_000_000_000)
    ledgers = Ledgers(store, keys, clock)
    run_demo(ledgers, clock, CITY, "김포시", citizens=25, merchants=4, days=3, seed=9)
    ledgers.close()
    path = tmp_path / "gimpo.archive"
    export_city(store, CITY, path)
    store.close()
    return path


def test_a_city_moves_to_the_other_kind_of_store_and_verifies_there(
    store_url: str, archive: Path, tmp_path: Path, request: pytest.FixtureRequest, keys: KeyStore
) -> None:
    target = open_store(_other_kind(store_url, tmp_path, request))
    summary = import_city(target, archive)
    report = verify_city(target, CITY)
    assert report.ok, report.problems
    source = open_store(store_url)
    assert target.head(CITY) == source.head(CITY)
    assert dict(target.state(CITY)) == dict(source.state(CITY))
    assert summary["txs"] == report.txs
    source.close()
    # The chain continues on the new operator's store, with the city's keys moved along.
    ledgers = Ledgers(target, keys, lambda: int(time.time() * 1000))
    before = target.head(CITY)
    assert before is not None
    key = nacl.signing.SigningKey.generate()
    opening = c.OpenWallet(
        id=new_id(), city=CITY, wallet="w-moved", keys=[public_key_hex(key)], custodial=False
    )
    assert ledgers.execute(CITY, sign_command(opening, [key])).ok
    ledgers.close()
    after = target.head(CITY)
    assert after is not None and after.height == before.height + 1
    assert verify_city(target, CITY).ok
    with pytest.raises(ArchiveError, match="already exists"):
        import_city(target, archive)
    target.close()


def _rewrite(archive: Path, change: Callable[[list[bytes]], list[bytes]]) -> Path:
    with gzip.open(archive, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    tampered = archive.with_suffix(".tampered")
    with gzip.open(tampered, "wb") as f:
        f.writelines(change(lines))
    return tampered


@pytest.mark.parametrize("how", ["edited", "dropped", "truncated"])
def test_a_tampered_archive_is_refused_and_leaves_nothing(
    store_url: str, archive: Path, tmp_path: Path, how: str
) -> None:
    def edit(lines: list[bytes]) -> list[bytes]:
        at = next(i for i, line in enumerate(lines) if b'"kind":"pay"' in line)
        if how == "edited":
            lines[at] = lines[at].replace(b'\\"amount\\":', b'\\"amount\\":9', 1)
        elif how == "dropped":
            del lines[at]
        else:
            lines = lines[: len(lines) // 2]
        return lines

    target = open_store(f"sqlite:///{tmp_path}/target.db")
    with pytest.raises(ArchiveError):
        import_city(target, _rewrite(archive, edit))
    assert CITY not in target.cities()
    target.close()


def test_a_re_sealed_but_edited_archive_fails_replay_and_leaves_nothing(
    archive: Path, tmp_path: Path
) -> None:
    """Even with the checksum recomputed, full replay catches the edit."""
    import hashlib  # noqa: PLC0415

    import msgspec  # noqa: PLC0415

    def forge(lines: list[bytes]) -> list[bytes]:
        body = lines[:-1]
        at = next(i for i, line in enumerate(body) if b'"kind":"pay"' in line)
        body[at] = body[at].replace(b'\\"amount\\":', b'\\"amount\\":9', 1)
        digest = hashlib.sha256(b"".join(body)).hexdigest()
        return [*body, msgspec.json.encode({"end": {"lines": len(body), "sha256": digest}}) + b"\n"]

    target = open_store(f"sqlite:///{tmp_path}/target.db")
    with pytest.raises(ArchiveError, match="block"):
        import_city(target, _rewrite(archive, forge))
    assert CITY not in target.cities()
    target.close()


def test_the_cli_exports_and_imports(archive: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    done = subprocess.run(
        [sys.executable, "-m", "localpay.cli", "--db", url, "import", str(archive)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "localpay.cli",
            "--db",
            url,
            "export",
            "--city",
            CITY,
            "--out",
            str(tmp_path / "again"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "localpay.cli", "--db", url, "import", str(tmp_path / "again")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and "already exists" in bad.stderr
