"""Who may use the API: a principal (a person or a machine) and its sign-in records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

OFFICIAL_ROLES: Final = frozenset({"city_maker", "city_checker"})
CITY_STAFF: Final = frozenset({"city_maker", "city_checker", "city_auditor"})


@dataclass(frozen=True)
class Principal:
    id: str
    city: str
    role: str
    username: str | None = None
    merchant: str | None = None
    wallet: str | None = None
    official_key: str | None = None

    @property
    def is_official(self) -> bool:
        return self.role in OFFICIAL_ROLES

    def staff_of(self, city: str) -> bool:
        return self.role in CITY_STAFF and self.city == city


@dataclass(frozen=True)
class Credentials:
    """What checks a person's sign-in: the password hash and, if enrolled, the TOTP
    secret (opened from its seal by the repository; never logged)."""

    principal_id: str
    password_hash: str
    totp_secret: str | None


@dataclass(frozen=True)
class ApiKeyListing:
    """A merchant API key as listed: never the key, which was shown once."""

    id: str
    label: str
    revoked: bool
    created_ms: int
