"""Key files: the server's Ed25519 seeds (operator, officials, merchants), sealed at rest.

Layout: <root>/<city>/<name>.key, mode 0600, each a seed sealed under the master key
(adapters/secrets.py) and bound to its city and name: a copy of the folder without the
master key opens nothing, and a file renamed or moved to another city does not open.
A production deployment may put an HSM or KMS behind the same `Sealer` seam. Seeds are
never logged or printed.

A person's own key (an official's after `hand_over`, a witness's from `witness-key new`)
is theirs, outside the server: it is a plain file (write_key_file), the hex of the seed,
which `localpay official approve --key` and `localpay witness --key` read.
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import nacl.signing

from localpay.adapters.secrets import (
    MasterKeyMismatch,
    SealBroken,
    Sealer,
    master_key_from_environment,
    mismatch,
    seal_of,
)

#: The label `status` gives a key file written before seeds were sealed.
PLAIN = "plain"


class KeyStore:
    def __init__(self, root: str | os.PathLike[str], master: Sealer | None = None) -> None:
        self.root = Path(root)
        self._master = master

    @property
    def master(self) -> Sealer:
        """The master key: as given, else from the environment (read on first use, so that
        a store used only for its paths needs none)."""
        if self._master is None:
            self._master = master_key_from_environment(forbidden=(self.root,))
        return self._master

    def _path(self, city: str, name: str) -> Path:
        return self.root / city / f"{name}.key"

    def create(self, city: str, name: str) -> nacl.signing.SigningKey:
        path = self._path(city, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = nacl.signing.SigningKey.generate()
        _write_new(path, self.master.seal(bytes(key), _context(city, name)))
        return key

    def load(self, city: str, name: str) -> nacl.signing.SigningKey:
        path = self._path(city, name)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(f"no key {name!r} for city {city!r} under {self.root}") from None
        return nacl.signing.SigningKey(self._open(city, name, blob, self.master))

    def put(self, city: str, name: str, key: nacl.signing.SigningKey) -> nacl.signing.SigningKey:
        """Keep a key made elsewhere (the demo's derived keys), sealed like the others; an
        existing file stays as it is and its key is returned."""
        path = self._path(city, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            _write_new(path, self.master.seal(bytes(key), _context(city, name)))
        except FileExistsError:
            return self.load(city, name)
        return key

    def get_or_create(self, city: str, name: str) -> nacl.signing.SigningKey:
        if self._path(city, name).exists():
            return self.load(city, name)
        try:
            return self.create(city, name)
        except FileExistsError:  # made by another thread or process meanwhile
            return self.load(city, name)

    def names(self, city: str) -> list[str]:
        folder = self.root / city
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.key"))

    def hand_over(self, city: str, name: str, destination: Path) -> nacl.signing.VerifyKey:
        """Move a key out of this store to `destination` (0600), for a person to keep:
        the server can no longer sign with it. The person's copy is plain (their own key,
        outside the server), as `localpay official approve --key` reads it. Returns its
        public key. Moving again (already there, gone from here) only reads it back."""
        source = self._path(city, name)
        if source.exists():
            destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_key_file(destination, self.load(city, name))
            source.unlink()
        return read_key_file(destination).verify_key

    # -- the master key: checks, status, rotation ------------------------------------------

    def check(self) -> int:
        """Refuse to start on a folder sealed under another master key (MasterKeyMismatch,
        naming both versions); seal the plain files of older versions. Returns how many
        were sealed."""
        sealed = 0
        for city, name, path in self._files():
            seal = seal_of(path.read_bytes())
            if seal is None:
                self.load(city, name)  # seals it in place
                sealed += 1
            elif seal.key_id != self.master.key_id:
                raise MasterKeyMismatch(mismatch(f"the key folder {self.root}", seal, self.master))
        return sealed

    def status(self) -> Counter[str]:
        """How many key files each master key sealed ("v1 (id)"), or "plain"."""
        found: Counter[str] = Counter()
        for _, _, path in self._files():
            seal = seal_of(path.read_bytes())
            found[seal.label() if seal else PLAIN] += 1
        return found

    def reseal(self, new: Sealer) -> int:
        """Seal every key file under `new`, one file at a time (write, fsync, rename), so a
        crash leaves each file whole under one key or the other; files already under `new`
        are skipped, so a re-run finishes the job. Returns how many it re-sealed."""
        for stale in self.root.glob("*/*.new"):  # a crash's half-written copies
            stale.unlink()
        resealed = 0
        for city, name, path in self._files():
            blob = path.read_bytes()
            seal = seal_of(blob)
            if seal is not None and seal.key_id == new.key_id:
                continue
            seed = self._open(city, name, blob, self.master, upgrade=False)
            _replace(path, new.seal(seed, _context(city, name)))
            resealed += 1
        self._master = new
        return resealed

    def _files(self) -> Iterator[tuple[str, str, Path]]:
        if not self.root.is_dir():
            return
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for path in sorted(folder.glob("*.key")):
                yield folder.name, path.stem, path

    def _open(
        self, city: str, name: str, blob: bytes, master: Sealer, upgrade: bool = True
    ) -> bytes:
        """The seed in a key file's bytes. A plain file of an older version is sealed in
        place first (`upgrade`), so that the folder holds no readable seed afterwards."""
        path = self._path(city, name)
        seal = seal_of(blob)
        if seal is None:
            seed = bytes(read_key_file(path))
            if upgrade:
                _replace(path, master.seal(seed, _context(city, name)))
            return seed
        if seal.key_id != master.key_id:
            raise MasterKeyMismatch(mismatch(f"the key file {path}", seal, master))
        try:
            return master.open(blob, _context(city, name))
        except SealBroken:
            raise SealBroken(
                f"the key file {path} does not open: altered, or moved from another city or name"
            ) from None


def _context(city: str, name: str) -> bytes:
    """What a sealed seed is bound to: its city and name."""
    return f"localpay/key-file/v1\n{city}\n{name}".encode()


def _write_new(path: Path, data: bytes) -> None:
    """A new file, whole or not at all, never over an existing one (FileExistsError): a
    key that may already sign a chain is never overwritten."""
    temporary = _written(path, data)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink()
    _sync_folder(path.parent)


def _replace(path: Path, data: bytes) -> None:
    """Replace a file atomically: a crash leaves the old content or the new, whole."""
    os.replace(_written(path, data), path)
    _sync_folder(path.parent)


def _written(path: Path, data: bytes) -> Path:
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return temporary


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_key_file(path: Path, key: nacl.signing.SigningKey) -> None:
    """A person's own key file (the seed's hex), mode 0600 from birth. O_EXCL: never
    overwrite a key that may already sign a chain (FileExistsError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(bytes(key).hex() + "\n")


def read_key_file(path: Path) -> nacl.signing.SigningKey:
    """The key of a file written by write_key_file (ValueError if it holds no seed)."""
    return nacl.signing.SigningKey(bytes.fromhex(path.read_text().strip()))
