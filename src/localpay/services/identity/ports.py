"""What the identity service needs from storage: principals, their credentials, sessions,
API keys, citizens' sign-in challenges and the count of failed logins.

Tokens and keys reach the repository only as their SHA-256; TOTP secrets are sealed at
rest by the repository (a copy of the tables opens nothing)."""

from __future__ import annotations

from typing import Protocol

from localpay.domain.principals import ApiKeyListing, Credentials, Principal


class IdentityRepository(Protocol):
    # -- principals --------------------------------------------------------------------------

    def add_person(self, principal: Principal, password_hash: str, created_ms: int) -> bool:
        """Keep a new person; False, and nothing changed, if the city has that user name."""
        ...

    def principal(self, principal_id: str) -> Principal | None:
        """An enabled principal by id."""
        ...

    def credentials(self, city: str, username: str) -> Credentials | None:
        """An enabled person's sign-in credentials."""
        ...

    def set_password_hash(self, principal_id: str, password_hash: str) -> None: ...

    def set_totp_secret(self, principal_id: str, secret: str) -> None:
        """Enrol (or replace) a person's TOTP secret; kept sealed."""
        ...

    def use_totp_step(self, principal_id: str, step: int) -> bool:
        """Record `step` as the newest TOTP step used, if it is newer than the last one;
        False if it is not (the code was used already)."""
        ...

    # -- failed logins -----------------------------------------------------------------------

    def count_attempt(self, city: str, username: str, now: int, window_ms: int) -> tuple[int, int]:
        """Forget counts older than the window, count one more try of this name; returns
        (tries in the window, when the window began)."""
        ...

    def clear_attempts(self, city: str, username: str) -> None: ...

    # -- sessions and API keys ---------------------------------------------------------------

    def add_session(self, token_hash: str, principal_id: str, expires_ms: int) -> None: ...

    def drop_session(self, token_hash: str) -> None: ...

    def by_session(self, token_hash: str, now: int) -> Principal | None:
        """The enabled principal of an unexpired session."""
        ...

    def by_api_key(self, key_hash: str) -> Principal | None:
        """The enabled principal of an unrevoked API key."""
        ...

    def add_api_key(
        self, machine: Principal, key_id: str, key_hash: str, label: str, created_ms: int
    ) -> None:
        """Keep a merchant's machine principal and its key, both or neither."""
        ...

    def revoke_api_key(self, city: str, merchant: str, key_id: str) -> bool:
        """False if the merchant has no such unrevoked key."""
        ...

    def api_keys(self, city: str, merchant: str) -> list[ApiKeyListing]:
        """A merchant's keys, oldest first."""
        ...

    # -- citizens ----------------------------------------------------------------------------

    def add_challenge(
        self,
        nonce: str,
        city: str,
        wallet: str,
        now: int,
        expires_ms: int,
        per_wallet: int,
        total: int,
    ) -> bool:
        """Purge expired challenges, keep the wallet's newest `per_wallet - 1`, and add this
        one if fewer than `total` are outstanding; False (nothing added) otherwise."""
        ...

    def first_challenge_expiry(self) -> int | None:
        """When the oldest outstanding challenge expires, if any."""
        ...

    def take_challenge(self, nonce: str, city: str, wallet: str, now: int) -> bool:
        """Remove an unexpired challenge; False if unknown, used or expired."""
        ...

    def citizen(self, city: str, wallet: str) -> str | None:
        """The principal id of a wallet's citizen, if one has signed in before."""
        ...

    def add_citizen(self, principal_id: str, city: str, wallet: str, created_ms: int) -> None: ...
