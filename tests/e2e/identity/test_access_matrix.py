"""Every operation x every role x own / other / another city's object: allowed or refused.

The expected policy is the table below (the rules of services/identity/access.py, stated again
independently). A route of the API without an entry here fails the test, so no new
operation ships without its access rule being decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from localpay.testing.servers import World, live_server, problem_code, seeded_store

STAFF = {"city_maker", "city_checker", "city_auditor"}
OFFICIALS = {"city_maker", "city_checker"}
MERCHANT_STAFF = {"merchant_owner", "merchant_cashier", "merchant_api"}
ROLES = ["anonymous", "citizen", *sorted(MERCHANT_STAFF), *sorted(STAFF), "operator_admin"]
TARGETS = {  # city, merchant, wallet, a transaction whose only party is that wallet
    "own": ("gimpo", "m-00000", "w-0000001"),
    "other": ("gimpo", "m-00001", "w-0000002"),
    "foreign": ("yangju", "m-00000", "w-0000001"),
}

Rule = Callable[[str, str], bool]  # (role, target kind) -> allowed


def anyone(role: str, target: str) -> bool:
    return True


def wallet_rule(role: str, target: str) -> bool:
    return target != "foreign" and (role in STAFF or (role == "citizen" and target == "own"))


def merchant_rule(role: str, target: str) -> bool:
    return target != "foreign" and (role in STAFF or (role in MERCHANT_STAFF and target == "own"))


def staff_rule(role: str, target: str) -> bool:
    return target != "foreign" and role in STAFF


def officials_rule(role: str, target: str) -> bool:
    return target != "foreign" and role in OFFICIALS


def checker_rule(role: str, target: str) -> bool:
    return target != "foreign" and role == "city_checker"


def refund_rule(role: str, target: str) -> bool:
    return target == "own" and role in MERCHANT_STAFF


def owner_rule(role: str, target: str) -> bool:
    return target == "own" and role == "merchant_owner"


def authenticated(role: str, target: str) -> bool:
    return role != "anonymous"


def operator_rule(role: str, target: str) -> bool:
    return role == "operator_admin"


# (method, route) -> rule; None = not token-authorized, covered by the named test instead.
POLICY: dict[tuple[str, str], Rule | str] = {
    ("GET", "/healthz"): anyone,
    ("GET", "/readyz"): anyone,
    ("GET", "/metrics"): operator_rule,  # every city's volumes; scrapers: test_observability
    ("GET", "/v1/cities"): anyone,
    ("GET", "/v1/cities/{city}"): anyone,
    ("GET", "/v1/cities/{city}/blocks"): anyone,
    ("GET", "/v1/cities/{city}/blocks/{height}"): anyone,
    ("GET", "/v1/cities/{city}/checkpoints/latest"): anyone,
    ("GET", "/v1/cities/{city}/programs/{program}"): anyone,
    ("GET", "/v1/cities/{city}/wallets/{wallet}"): wallet_rule,
    ("GET", "/v1/cities/{city}/wallets/{wallet}/transactions"): wallet_rule,
    ("GET", "/v1/cities/{city}/merchants/{merchant}"): merchant_rule,
    ("GET", "/v1/cities/{city}/merchants/{merchant}/transactions"): merchant_rule,
    ("GET", "/v1/cities/{city}/transactions/{tx_id}"): wallet_rule,  # the wallet is the party
    ("GET", "/v1/cities/{city}/blocks/{height}/transactions"): staff_rule,
    ("GET", "/v1/cities/{city}/feed"): staff_rule,  # witnesses: test_witnesses (signed requests)
    ("GET", "/v1/cities/{city}/proposals"): staff_rule,
    ("GET", "/v1/cities/{city}/proposals/{proposal}"): staff_rule,
    ("POST", "/v1/cities/{city}/proposals"): officials_rule,
    ("POST", "/v1/cities/{city}/proposals/{proposal}/approvals"): checker_rule,
    ("POST", "/v1/cities/{city}/proposals/{proposal}/rejections"): checker_rule,
    ("POST", "/v1/cities/{city}/merchants/{merchant}/refunds"): refund_rule,
    ("POST", "/v1/cities/{city}/merchants/{merchant}/payouts"): owner_rule,
    ("GET", "/v1/cities/{city}/merchants/{merchant}/api-keys"): owner_rule,
    ("POST", "/v1/cities/{city}/merchants/{merchant}/api-keys"): owner_rule,
    ("DELETE", "/v1/cities/{city}/merchants/{merchant}/api-keys/{key_id}"): owner_rule,
    ("GET", "/v1/auth/me"): authenticated,
    ("GET", "/v1/cities/{city}/checkpoints"): anyone,
    ("GET", "/v1/cities/{city}/checkpoints/{size}"): anyone,
    ("GET", "/v1/cities/{city}/proofs/consistency"): anyone,
    ("GET", "/v1/cities/{city}/transactions/{tx_id}/receipt"): wallet_rule,
    ("POST", "/v1/cities/{city}/checkpoints/{size}/cosignatures"): (
        "test_transparency: a cosignature authenticates itself against the on-chain witnesses"
    ),
    ("POST", "/v1/auth/login"): "test_api_protocol: sign-in",
    ("POST", "/v1/auth/logout"): "test_api_protocol: sign-in",
    ("POST", "/v1/cities/{city}/wallets/{wallet}/challenges"): "test_api_protocol: sign-in",
    ("POST", "/v1/cities/{city}/wallets/{wallet}/sessions"): "test_api_protocol: sign-in",
}
SIGNED = (
    "wallets",
    "payments",
    "refunds",
    "transfers",
    "credits",
    "merchants",
    "merchant-decisions",
    "programs",
    "mints",
    "redemptions",
    "expiries",
    "officials",
    "witnesses",
)
for _collection in SIGNED:
    POLICY[("POST", f"/v1/cities/{{city}}/{_collection}")] = (
        "test_a_token_never_replaces_a_signature"
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("world")
    url = seeded_store(request, folder)
    with live_server(url, folder / "keys") as base:
        found = World(base, folder / "keys")
        found.sign_in_everyone()
        yield found


def _first_tx_of(world: World, city: str, wallet: str) -> str:
    token = world.tokens[city]["city_auditor"]
    with world.client(token) as c:
        items = c.get(
            f"/v1/cities/{city}/wallets/{wallet}/transactions", params={"limit": 200}
        ).json()["items"]
    return str(items[-1]["id"])


def _proposal(world: World, city: str) -> str:
    with world.client(world.tokens[city]["city_maker"]) as c:
        r = c.post(
            f"/v1/cities/{city}/proposals",
            headers={"Idempotency-Key": httpx_key()},
            json={
                "kind": "suspend_merchant",
                "params": {"merchant": "m-00002", "reason": "matrix"},
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


_keys = iter(range(10**9))


def httpx_key() -> str:
    return f"matrix-{next(_keys)}"


def _request(world: World, method: str, route: str, target: str) -> tuple[str, dict[str, Any]]:
    city, merchant, wallet = TARGETS[target]
    values = {
        "city": city,
        "merchant": merchant,
        "wallet": wallet,
        "height": "1",
        "program": "general",
        "key_id": "000000000000",
        "size": "1",
    }
    if "{tx_id}" in route:
        values["tx_id"] = _first_tx_of(world, city, wallet)
    if "{proposal}" in route:
        values["proposal"] = _proposal(world, city)
    path = route.format(**values)
    body: dict[str, Any] = {}
    if route.endswith("/refunds"):
        body = {"payment": "0" * 32, "amount": 1000}
    elif route.endswith("/payouts"):
        body = {"amount": 10**9}
    elif route.endswith("/api-keys"):
        body = {"label": "matrix"}
    elif route.endswith("/proposals"):
        body = {"kind": "suspend_merchant", "params": {"merchant": merchant, "reason": "x"}}
    return path, body


def _routes(world: World) -> list[tuple[str, str]]:
    with world.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    found = [(m.upper(), p) for p, ops in paths.items() for m in ops]
    # Operations routes are not in the API's schema, but they are routes all the same.
    return sorted({*found, ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")})


def test_every_route_has_an_access_rule(world: World) -> None:
    missing = [r for r in _routes(world) if r not in POLICY]
    assert not missing, f"decide the access rule of: {missing}"


def _refused(response: httpx.Response) -> bool:
    """401/403, or the 404 that access rules give (not a 404 of an allowed look-up)."""
    if response.status_code in (401, 403):
        return problem_code(response) in ("unauthenticated", "forbidden")
    return response.status_code == 404 and (
        problem_code(response) == "not_found"
        and response.json().get("detail") == "no such resource"
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_policy_allows(world: World, role: str) -> None:
    token = (
        None
        if role == "anonymous"
        else (world.tokens["*"][role] if role == "operator_admin" else world.tokens["gimpo"][role])
    )
    wrong = []
    for (method, route), rule in POLICY.items():
        if isinstance(rule, str):
            continue
        for target in TARGETS:
            if "{city}" not in route and target != "own":
                continue
            path, body = _request(world, method, route, target)
            with world.client(token) as c:
                response = c.request(
                    method, path, json=body or None, headers={"Idempotency-Key": httpx_key()}
                )
            assert response.status_code < 500, (method, path, response.text)
            allowed = rule(role, target)
            refused = _refused(response)
            if allowed == refused:
                wrong.append((method, route, target, response.status_code, response.text[:120]))
            if refused:
                assert '"balance"' not in response.text and '"lots"' not in response.text
                if role == "anonymous":
                    assert response.status_code == 401, (method, path)
                elif target == "foreign" and role != "operator_admin":
                    assert response.status_code == 404, (method, path)  # never confirm it exists
    assert not wrong, "\n".join(map(str, wrong))


def test_a_token_never_replaces_a_signature(world: World) -> None:
    import nacl.signing  # noqa: PLC0415

    from localpay.domain import commands as c  # noqa: PLC0415
    from localpay.ledger.signatures import sign_command  # noqa: PLC0415

    stranger = nacl.signing.SigningKey.generate()
    for role, token in world.tokens["gimpo"].items():
        pay = c.Pay(
            id=httpx_key().replace("matrix-", "").rjust(32, "a")[:32],
            city="gimpo",
            wallet="w-0000001",
            merchant="m-00000",
            amount=100,
            evidence="",
        )
        with world.client(token) as client:
            r = client.post(
                "/v1/cities/gimpo/payments",
                content=sign_command(pay, [stranger]),
                headers={"Idempotency-Key": httpx_key(), "Content-Type": "application/json"},
            )
        assert r.status_code == 403 and problem_code(r) == "unknown_signer", (role, r.text)
