"""The Bank port over HTTP (httpx): a bank that opens virtual accounts and debits linked
accounts at its API, every request signed with HMAC-SHA256 over the exact body with the
secret the bank and the platform share (the simulated bank, sim/bank/, speaks this)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Final

import httpx

from localpay.adapters.keystore import KeyStore
from localpay.services.sales.ports import BankUnavailable, Deposit

TIMEOUT_S: Final = 10.0


class HttpBank:
    def __init__(self, base_url: str, secret: bytes, name: str = "모의은행") -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.name = name
        self.client = httpx.Client(base_url=self.base_url, timeout=TIMEOUT_S)

    def _post(self, path: str, fields: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
        mac = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Bank-Signature": mac}
        try:
            answer = self.client.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BankUnavailable(f"the bank at {self.base_url} did not answer: {exc}") from None
        if answer.status_code != 201:
            # The bank's words are for the operator's logs; people get "try again".
            raise BankUnavailable(f"the bank refused {path}: {answer.status_code}")
        found: dict[str, Any] = answer.json()
        return found

    def _deposit(self, order: str, found: dict[str, Any]) -> Deposit:
        return Deposit(
            order, str(found["account"]), int(found["amount"]), int(found["deadline_ms"]), self.name
        )

    def open_deposit(self, city: str, order: str, amount: int, deadline_ms: int) -> Deposit:
        fields = {"city": city, "order": order, "amount": amount, "deadline_ms": deadline_ms}
        return self._deposit(order, self._post("/virtual-accounts", fields))

    def request_debit(self, city: str, order: str, linked_account: str, amount: int) -> Deposit:
        # The linked account number goes to the bank only: never stored or logged here.
        fields = {"city": city, "order": order, "amount": amount, "linked_account": linked_account}
        return self._deposit(order, self._post("/debits", fields))

    def close(self) -> None:
        self.client.close()


#: Where the shared secret of the bank's requests and notices lives in the key store.
SECRET_FOLDER: Final = "_bank"  # noqa: S105 (a key file folder, not a secret)
SECRET_NAME: Final = "webhook"  # noqa: S105 (a key file name)


def bank_secret(keys: KeyStore) -> bytes:
    """The secret shared with the bank (made on first use), sealed in the key store."""
    return bytes(keys.get_or_create(SECRET_FOLDER, SECRET_NAME))
