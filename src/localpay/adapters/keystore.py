"""Key files: the operator's and officials' Ed25519 seeds, one file each, mode 0600.

Layout: <root>/<city>/operator.key and <root>/<city>/official-<name>.key, each the
hex of a 32-byte seed. A production deployment keeps these in an HSM or KMS; this
file store keeps the same interface for one machine and for tests. Seeds are
never logged or printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import nacl.signing


class KeyStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, city: str, name: str) -> Path:
        return self.root / city / f"{name}.key"

    def create(self, city: str, name: str) -> nacl.signing.SigningKey:
        path = self._path(city, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = nacl.signing.SigningKey.generate()
        write_key_file(path, key)
        return key

    def load(self, city: str, name: str) -> nacl.signing.SigningKey:
        try:
            return read_key_file(self._path(city, name))
        except FileNotFoundError:
            raise KeyError(f"no key {name!r} for city {city!r} under {self.root}") from None

    def get_or_create(self, city: str, name: str) -> nacl.signing.SigningKey:
        if self._path(city, name).exists():
            return self.load(city, name)
        return self.create(city, name)

    def names(self, city: str) -> list[str]:
        folder = self.root / city
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.key"))

    def hand_over(self, city: str, name: str, destination: Path) -> nacl.signing.VerifyKey:
        """Move a key out of this store to `destination` (0600), for a person to keep:
        the server can no longer sign with it. Returns its public key. Moving again
        (already there, gone from here) only reads it back."""
        source = self._path(city, name)
        if source.exists():
            destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_key_file(destination, self.load(city, name))
            source.unlink()
        return read_key_file(destination).verify_key


def write_key_file(path: Path, key: nacl.signing.SigningKey) -> None:
    """A key file (the seed's hex), mode 0600 from birth. O_EXCL: never overwrite a key
    that may already sign a chain (FileExistsError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(bytes(key).hex() + "\n")


def read_key_file(path: Path) -> nacl.signing.SigningKey:
    """The key of a file written by write_key_file (ValueError if it holds no seed)."""
    return nacl.signing.SigningKey(bytes.fromhex(path.read_text().strip()))
