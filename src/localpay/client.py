"""A small Python client for the localpay API: it signs commands and sends them.

    key = nacl.signing.SigningKey.generate()
    api = Client("http://127.0.0.1:8000", "gimpo")
    api.open_wallet("w-alice", key)
    receipt = api.pay("w-alice", key, merchant="m-00001", amount=17_000)

Signing happens here, on the client: the server never sees a citizen's private key.
Every write carries a fresh Idempotency-Key; pass `idempotency_key` to retry safely.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import msgspec
import nacl.signing

from localpay.domain import commands as c
from localpay.ledger.signatures import public_key_hex, sign_command


class ApiError(Exception):
    """The API answered with a problem (RFC 9457); `problem` holds its members."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('code')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code", ""))


def new_id() -> str:
    return os.urandom(16).hex()


class Client:
    def __init__(
        self,
        base_url: str,
        city: str,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.city = city
        self.http = httpx.Client(
            base_url=base_url, headers=headers, transport=transport, timeout=timeout
        )

    def close(self) -> None:
        self.http.close()

    # -- plumbing -------------------------------------------------------------------------

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    def send(
        self, path: str, envelope: bytes, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST a signed envelope to /v1/cities/{city}/{path}; the receipt or ApiError."""
        response = self.http.post(
            f"/v1/cities/{self.city}/{path}",
            content=envelope,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key or new_id(),
            },
        )
        return self._answer(response)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._answer(self.http.get(f"/v1/cities/{self.city}{path}", params=params))

    # -- citizens ---------------------------------------------------------------------------

    def open_wallet(
        self, wallet: str, key: nacl.signing.SigningKey, custodial: bool = False
    ) -> dict[str, Any]:
        cmd = c.OpenWallet(
            id=new_id(),
            city=self.city,
            wallet=wallet,
            keys=[public_key_hex(key)],
            custodial=custodial,
        )
        return self.send("wallets", sign_command(cmd, [key]))

    def pay(
        self,
        wallet: str,
        key: nacl.signing.SigningKey,
        merchant: str,
        amount: int,
        evidence: str = "",
        command_id: str | None = None,
    ) -> dict[str, Any]:
        cmd = c.Pay(
            id=command_id or new_id(),
            city=self.city,
            wallet=wallet,
            merchant=merchant,
            amount=amount,
            evidence=evidence,
        )
        return self.send("payments", sign_command(cmd, [key]))

    def transfer(
        self,
        wallet: str,
        key: nacl.signing.SigningKey,
        to: str,
        amount: int,
        evidence: str = "",
    ) -> dict[str, Any]:
        """A gift; from a card (custodial) wallet `evidence` is the card's authorization."""
        cmd = c.Transfer(
            id=new_id(), city=self.city, wallet=wallet, to=to, amount=amount, evidence=evidence
        )
        return self.send("transfers", sign_command(cmd, [key]))

    def refund(
        self, merchant: str, key: nacl.signing.SigningKey, payment: str, amount: int
    ) -> dict[str, Any]:
        cmd = c.Refund(
            id=new_id(), city=self.city, merchant=merchant, payment=payment, amount=amount
        )
        return self.send("refunds", sign_command(cmd, [key]))

    # -- purchases (구매/충전) -------------------------------------------------------------------

    def order_purchase(
        self,
        wallet: str,
        key: nacl.signing.SigningKey,
        program: str,
        amount: int,
        command_id: str | None = None,
    ) -> dict[str, Any]:
        """Order `amount` won of a sale program: the receipt (the discount held) and where
        to transfer the won. Repeat it with the same `command_id` after a lost answer."""
        cmd = c.OrderPurchase(
            id=command_id or new_id(), city=self.city, wallet=wallet, program=program, amount=amount
        )
        return self.send("sales/orders", sign_command(cmd, [key]))

    def cancel_purchase(
        self, wallet: str, key: nacl.signing.SigningKey, purchase: str
    ) -> dict[str, Any]:
        """Take back an unused purchase within its days: the won owed back in full."""
        cmd = c.CancelPurchase(id=new_id(), city=self.city, wallet=wallet, purchase=purchase)
        return self.send("sales/cancellations", sign_command(cmd, [key]))

    def refund_balance(
        self, wallet: str, key: nacl.signing.SigningKey, purchase: str
    ) -> dict[str, Any]:
        """The rest of a mostly used purchase back in won, less the discount received."""
        cmd = c.RefundBalance(id=new_id(), city=self.city, wallet=wallet, purchase=purchase)
        return self.send("sales/refunds", sign_command(cmd, [key]))

    # -- holds, cards and one-time codes -------------------------------------------------------

    def bind_card(
        self, wallet: str, key: nacl.signing.SigningKey, card: str, card_key: str, active: bool
    ) -> dict[str, Any]:
        """Bind (or unbind) a prepaid card's key to the wallet; `card` is its id on the chain."""
        cmd = c.BindCard(
            id=new_id(), city=self.city, wallet=wallet, card=card, key=card_key, active=active
        )
        return self.send("cards/bindings", sign_command(cmd, [key]))

    def hold(
        self,
        wallet: str,
        key: nacl.signing.SigningKey,
        merchant: str,
        amount: int,
        *,
        intent: str,
        order: str,
        command_id: str | None = None,
    ) -> dict[str, Any]:
        """Approve a checkout intent: hold `amount` for the merchant's intent and order,
        through the intent's approval route (which checks both are the intent's)."""
        cmd = c.Hold(
            id=command_id or new_id(),
            city=self.city,
            wallet=wallet,
            merchant=merchant,
            amount=amount,
            intent=intent,
            order=order,
        )
        return self.send(f"checkout/intents/{intent}/approval", sign_command(cmd, [key]))

    def capture(
        self, merchant: str, key: nacl.signing.SigningKey, hold: str, wallet: str, amount: int
    ) -> dict[str, Any]:
        cmd = c.Capture(
            id=new_id(), city=self.city, hold=hold, wallet=wallet, merchant=merchant, amount=amount
        )
        return self.send("captures", sign_command(cmd, [key]))

    def release(
        self, merchant: str, key: nacl.signing.SigningKey, hold: str, wallet: str
    ) -> dict[str, Any]:
        cmd = c.Release(id=new_id(), city=self.city, hold=hold, wallet=wallet, merchant=merchant)
        return self.send("releases", sign_command(cmd, [key]))

    def present_code(
        self, wallet: str, key: nacl.signing.SigningKey, code_hash: str, cap: int
    ) -> dict[str, Any]:
        """Offer to pay up to `cap` to the shop that claims the code (its hash) in 3 minutes."""
        cmd = c.PresentCode(id=new_id(), city=self.city, wallet=wallet, code=code_hash, cap=cap)
        return self.send("presented-codes", sign_command(cmd, [key]))

    def claim_code(
        self,
        merchant: str,
        key: nacl.signing.SigningKey,
        code_hash: str,
        wallet: str,
        amount: int,
    ) -> dict[str, Any]:
        cmd = c.ClaimCode(
            id=new_id(),
            city=self.city,
            code=code_hash,
            wallet=wallet,
            merchant=merchant,
            amount=amount,
        )
        return self.send("presented-codes/claims", sign_command(cmd, [key]))

    # -- reads --------------------------------------------------------------------------------

    def wallet(self, wallet: str) -> dict[str, Any]:
        return self.get(f"/wallets/{wallet}")

    def merchant(self, merchant: str) -> dict[str, Any]:
        return self.get(f"/merchants/{merchant}")

    def transaction(self, tx_id: str) -> dict[str, Any]:
        return self.get(f"/transactions/{tx_id}")

    def blocks(self, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self.get("/blocks", **params)

    def checkpoint(self) -> dict[str, Any]:
        return self.get("/checkpoints/latest")


def decode_receipt_result(receipt: dict[str, Any]) -> Any:
    return msgspec.convert(receipt.get("result"), type=dict[str, Any])
