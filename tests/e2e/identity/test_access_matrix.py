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

from localpay.sim.settlement import shop_party
from localpay.testing.servers import World, live_container, problem_code, seeded_store

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


def payer_rule(role: str, target: str) -> bool:
    """Won to the shop's account on file: its owner, or its server with the shop's API key."""
    return target == "own" and role in ("merchant_owner", "merchant_api")


def account_reader_rule(role: str, target: str) -> bool:
    return owner_rule(role, target) or staff_rule(role, target)


def authenticated(role: str, target: str) -> bool:
    return role != "anonymous"


def operator_rule(role: str, target: str) -> bool:
    return role == "operator_admin"


def own_citizen_rule(role: str, target: str) -> bool:
    """A wallet's purchases, payouts, sale room and notices: its own session only. The
    city's staff read the wallet's balances from the wallet view, not these (routers say so)."""
    return target == "own" and role == "citizen"


# (method, route) -> rule; None = not token-authorized, covered by the named test instead.
POLICY: dict[tuple[str, str], Rule | str] = {
    ("GET", "/healthz"): anyone,
    ("GET", "/readyz"): anyone,
    ("GET", "/healthz/reserves"): anyone,  # a monitor's: every city's backing, no secret
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
    # Issue 14. Settlement: a shop's payout to its bank account (the old Redeem payout's
    # path); its account is its owner's (the city's staff read it masked); the city's
    # payout files and exceptions its staff's, the files' bytes, statements and
    # resolutions its officials'; the proof of reserves is public.
    ("POST", "/v1/cities/{city}/merchants/{merchant}/payouts"): payer_rule,
    ("GET", "/v1/cities/{city}/merchants/{merchant}/payouts"): merchant_rule,
    ("PUT", "/v1/cities/{city}/merchants/{merchant}/payout-account"): owner_rule,
    ("GET", "/v1/cities/{city}/merchants/{merchant}/payout-account"): account_reader_rule,
    ("GET", "/v1/cities/{city}/payout-batches"): staff_rule,
    ("GET", "/v1/cities/{city}/payout-batches/{batch_id}"): staff_rule,
    ("GET", "/v1/cities/{city}/payout-batches/{batch_id}/file"): officials_rule,
    ("POST", "/v1/cities/{city}/statements"): officials_rule,
    ("GET", "/v1/cities/{city}/reconciliation/exceptions"): staff_rule,
    ("POST", "/v1/cities/{city}/reconciliation/exceptions/{exception_id}/resolution"): (
        officials_rule
    ),
    ("GET", "/v1/cities/{city}/reserves"): anyone,
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
    # Issue 12. Sales: what is on sale and its live budget are public; a wallet's own figures
    # are its own session's; orders, cancellations and refunds are signed by the wallet.
    ("GET", "/v1/cities/{city}/sales"): anyone,
    ("GET", "/v1/cities/{city}/sales/{program}/budget/events"): anyone,
    ("GET", "/v1/cities/{city}/wallets/{wallet}/sale-room"): own_citizen_rule,
    ("GET", "/v1/cities/{city}/wallets/{wallet}/purchases"): own_citizen_rule,
    ("GET", "/v1/cities/{city}/wallets/{wallet}/payouts"): own_citizen_rule,
    ("GET", "/v1/cities/{city}/wallets/{wallet}/notices"): own_citizen_rule,
    ("POST", "/v1/cities/{city}/sales/orders"): (
        "test_access_issue12: a token never replaces the wallet's signature"
    ),
    ("POST", "/v1/cities/{city}/sales/cancellations"): (
        "test_access_issue12: a token never replaces the wallet's signature"
    ),
    ("POST", "/v1/cities/{city}/sales/refunds"): (
        "test_access_issue12: a token never replaces the wallet's signature"
    ),
    # Issue 14. A citizen's refund account: the wallet's signature over the request is the
    # authority (no session or token stands in for it).
    ("PUT", "/v1/cities/{city}/wallets/{wallet}/payout-account"): (
        "test_settle_wallet_account: test_a_signature_by_another_key_or_over_other_words_..."
    ),
    ("POST", "/v1/bank/deposits"): (
        "test_sales_flow: test_a_notice_with_a_bad_signature_is_refused_and_changes_nothing"
    ),
    # The waiting room: its figures are public, anyone joins; officials who propose schedule,
    # pause and resume; a place is read by its ticket (a bearer), not by a session.
    ("GET", "/v1/cities/{city}/waiting/{program}"): anyone,
    ("POST", "/v1/cities/{city}/waiting/{program}/tickets"): anyone,
    ("PUT", "/v1/cities/{city}/waiting/{program}"): officials_rule,
    ("POST", "/v1/cities/{city}/waiting/{program}/pause"): officials_rule,
    ("POST", "/v1/cities/{city}/waiting/{program}/resume"): officials_rule,
    ("GET", "/v1/cities/{city}/waiting/{program}/status"): (
        "test_waiting_api: test_officials_schedule_people_join_and_wait (the ticket is the bearer)"
    ),
    ("GET", "/v1/cities/{city}/waiting/{program}/events"): (
        "test_waiting_api: test_live_stream_says_the_status (the ticket is the bearer)"
    ),
    # Policy money: officials who propose load eligibility data and upload and submit
    # batches; the city's staff (auditors too) read the batches.
    ("POST", "/v1/cities/{city}/programs/{program}/eligibility"): officials_rule,
    ("POST", "/v1/cities/{city}/batches"): officials_rule,
    ("POST", "/v1/cities/{city}/batches/{batch}/submit"): officials_rule,
    ("GET", "/v1/cities/{city}/batches/{batch}"): staff_rule,
    ("GET", "/v1/cities/{city}/batches/{batch}/lines"): staff_rule,
    ("GET", "/v1/cities/{city}/batches/{batch}/progress"): staff_rule,
    # The console's previews write nothing: the city's staff.
    ("POST", "/v1/cities/{city}/programs/preview"): staff_rule,
    ("POST", "/v1/cities/{city}/programs/condition-check"): staff_rule,
    # The merchant registry: a shop applies in public and follows its application by its
    # status token; the staff read; officials decide; a checker checks; the shop's own staff
    # and the city's staff read its eligibility.
    ("POST", "/v1/cities/{city}/merchant-applications"): (
        "test_registry_api: test_the_whole_registry_over_http (public, throttled)"
    ),
    ("GET", "/v1/cities/{city}/merchant-applications/status/{token}"): (
        "test_access_issue12: a status token opens its own city's application only"
    ),
    ("GET", "/v1/cities/{city}/merchant-applications"): staff_rule,
    ("GET", "/v1/cities/{city}/merchant-applications/{application}"): staff_rule,
    ("POST", "/v1/cities/{city}/merchant-applications/{application}/approval"): officials_rule,
    ("POST", "/v1/cities/{city}/merchant-applications/{application}/refusal"): officials_rule,
    ("GET", "/v1/cities/{city}/registry/merchants"): staff_rule,
    ("POST", "/v1/cities/{city}/registry/merchants/{merchant}/suspension"): officials_rule,
    ("POST", "/v1/cities/{city}/registry/merchants/{merchant}/reinstatement"): officials_rule,
    ("POST", "/v1/cities/{city}/registry/merchants/{merchant}/check"): checker_rule,
    ("GET", "/v1/cities/{city}/merchants/{merchant}/eligibility"): merchant_rule,
    # Issue 13. Prepaid cards: officials write, the city's staff read, a merchant's owner
    # manages its own terminals; the ids (cards, terminals) are made by the tests.
    **{
        route: "test_cards_api: test_access and test_issue_top_up_and_pay_at_a_terminal"
        for route in (
            ("POST", "/v1/cities/{city}/cards"),
            ("GET", "/v1/cities/{city}/wallets/{wallet}/cards"),
            ("GET", "/v1/cities/{city}/cards/{card}"),
            ("POST", "/v1/cities/{city}/cards/{card}/block"),
            ("POST", "/v1/cities/{city}/cards/{card}/lost"),
            ("POST", "/v1/cities/{city}/cards/{card}/reissue"),
            ("POST", "/v1/cities/{city}/cards/{card}/pin"),
            ("POST", "/v1/cities/{city}/wallets/{wallet}/top-ups"),
            ("GET", "/v1/cities/{city}/wallets/{wallet}/card-balance"),
            ("POST", "/v1/cities/{city}/terminals"),
            ("GET", "/v1/cities/{city}/terminals"),
            ("DELETE", "/v1/cities/{city}/terminals/{terminal}"),
        )
    },
    # Issue 13. Checkout: a merchant's server (or staff) creates and lists its own intents;
    # an intent's routes need an intent the tests make (another merchant's is 404 there).
    ("POST", "/v1/cities/{city}/checkout/intents"): lambda r, t: (
        t != "foreign" and r in MERCHANT_STAFF
    ),
    ("GET", "/v1/cities/{city}/checkout/intents"): lambda r, t: (
        t != "foreign" and r in MERCHANT_STAFF
    ),
    **{
        ("POST" if action else "GET", "/v1/cities/{city}/checkout/intents/{intent}" + action): (
            "test_checkout_api: test_another_merchants_intent_is_not_found (the approval: a"
            " signed hold, test_a_hold_that_differs_from_the_intent_is_refused...)"
        )
        for action in ("", "/capture", "/cancel", "/refund", "/approval")
    },
    # Issue 13. The customer-presented code: a shop's own staff or API key captures one; a
    # code's state is its wallet's alone, by a code the test presents.
    ("POST", "/v1/cities/{city}/merchants/{merchant}/codes/claim"): refund_rule,
    ("GET", "/v1/cities/{city}/presented-codes/{code}"): (
        "test_codes_api: test_a_code_s_state_is_its_wallet_s_alone"
    ),
    # Issue 13. QR codes: the city's QR key and reading a scanned code are public (no
    # secret in either); a shop's printed code is its staff's and the city's officials'.
    ("GET", "/v1/cities/{city}/qr/key"): "test_qr_static_api (public: the wallet verifies with it)",
    ("POST", "/v1/cities/{city}/qr/read"): "test_qr_static_api (public: a read, no secret)",
    ("GET", "/v1/cities/{city}/merchants/{merchant}/qr"): "test_qr_static_api: test_others_get_404",
    # A dynamic QR's request: the shop's staff or API key makes and polls it; anyone
    # holding the wallet's signed Pay pays it (the signature is the authority).
    **{
        route: "test_qr_requests_api: test_other_shops_and_anonymous_callers_are_refused"
        for route in (
            ("POST", "/v1/cities/{city}/qr/requests"),
            ("GET", "/v1/cities/{city}/qr/requests/{reference}"),
            ("POST", "/v1/cities/{city}/qr/requests/{reference}/pay"),
        )
    },
    # Webhooks: the shop's owner or API key; a cashier 403, anyone else 404.
    **{
        (method, "/v1/cities/{city}/merchants/{merchant}/webhooks" + tail): (
            "test_webhooks_api: test_who_may"
        )
        for method, tail in (
            ("GET", ""),
            ("POST", ""),
            ("GET", "/{subscription}"),
            ("DELETE", "/{subscription}"),
            ("GET", "/{subscription}/deliveries"),
            ("POST", "/{subscription}/deliveries/{event_id}/replay"),
            ("POST", "/{subscription}/ping"),
            ("POST", "/{subscription}/replay"),
            ("POST", "/{subscription}/rotate"),
        )
    },
    # Settlement reports (pages, not the API, so outside the schema walked here): a shop's
    # statements are its owner's alone, the city's report its staff's.
    **{
        route: "test_settle_reports_pages (another shop's owner and the cashier get 404)"
        for route in (
            ("GET", "/c/{city}/counter/reports"),
            ("GET", "/c/{city}/counter/{merchant}/reports"),
            ("GET", "/c/{city}/counter/{merchant}/reports/{month}.{fmt}"),
        )
    },
    **{
        route: "test_settle_reports_pages: test_the_city_report_is_for_the_city_s_staff"
        for route in (
            ("GET", "/c/{city}/console/reports"),
            ("GET", "/c/{city}/console/reports/{month}.{fmt}"),
        )
    },
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
    "cards/bindings",
    "captures",
    "releases",
    "presented-codes",
    "presented-codes/claims",
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
    with live_container(url, folder / "keys", bank=True) as (base, _, _):
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
    return f"matrix-{next(_keys):012d}"  # the waiting room wants 16 characters at least


BATCH_FILE = "citizen,amount,program,reference\nw-0000002,1000,general,matrix-1\n"
EVIDENCE_FILE = "citizen,birth,residence,employment\nw-0000002,1990-01-01,2015-03-01/,employed\n"
_batches: dict[tuple[str, str], str] = {}


def _batch(world: World, city: str) -> str:
    """A batch of `city` (made once by its maker), so a read that is allowed finds it."""
    if (world.base, city) not in _batches:
        with world.client(world.tokens[city]["city_maker"]) as c:
            r = c.post(
                f"/v1/cities/{city}/batches",
                content=BATCH_FILE,
                headers={"Idempotency-Key": f"matrix-batch-{city}", "Content-Type": "text/csv"},
            )
        assert r.status_code == 201, r.text
        _batches[(world.base, city)] = str(r.json()["id"])
    return _batches[(world.base, city)]


APPLICATION = {
    "brn": "124-81-00998",
    "name": "구래동 매트릭스 베이커리",
    "name_en": "Gurae-dong Matrix Bakery",
    "industry": "56191",
    "area": "gurae-dong",
    "annual_revenue": 150_000_000,
    "bank": "088",
    "account_number": "110-123-456789",
    "account_holder": "김하나",
    "owner_username": "matrix-owner",
    "owner_password": "owner-password-2026",
}
_applications: dict[str, str] = {}


def _application(world: World) -> str:
    """A pending application of gimpo (the public form, once): what an allowed look-up finds.
    Another city's path names it too: its people must not learn it exists."""
    if world.base not in _applications:
        with world.client() as c:
            r = c.post(
                "/v1/cities/gimpo/merchant-applications",
                json=APPLICATION,
                headers={"Idempotency-Key": "matrix-application"},
            )
        assert r.status_code == 201, r.text
        _applications[world.base] = str(r.json()["application"])
    return _applications[world.base]


def _policy() -> dict[str, Any]:
    import msgspec  # noqa: PLC0415

    from localpay.testing.builders import policy  # noqa: PLC0415

    return dict(msgspec.to_builtins(policy("Matrix voucher")))


def _body(route: str, merchant: str) -> dict[str, Any]:
    """What the request sends: valid, so that a refusal is the access rule's, not validation's."""
    csv = {"Content-Type": "text/csv"}
    if route.endswith("/batches"):
        return {"content": BATCH_FILE, "headers": csv}
    if route.endswith("/eligibility") and route.startswith("/v1/cities/{city}/programs/"):
        return {"content": EVIDENCE_FILE, "headers": csv}
    found: dict[str, Any] = {}
    if route.endswith("/merchants/{merchant}/refunds"):
        found = {"payment": "0" * 32, "amount": 1000}
    elif route.endswith("/codes/claim"):
        found = {"code": "0" * 20, "amount": 1000}  # nobody's code: 404 code_not_found
    elif route.endswith("/payouts") and "{merchant}" in route:
        found = {"amount": 10**9}
    elif route.endswith("/payout-account"):
        party = shop_party("gimpo", merchant)  # the one on file: a PUT changes nothing
        found = {"bank": party.bank, "number": party.account, "holder": party.name}
    elif route.endswith("/resolution"):
        found = {"note": "matrix"}
    elif route.endswith("/api-keys"):
        found = {"label": "matrix"}
    elif route.endswith("/proposals"):
        found = {"kind": "suspend_merchant", "params": {"merchant": merchant, "reason": "x"}}
    elif route == "/v1/cities/{city}/waiting/{program}":
        found = {"opens_at": "2030-01-01T00:00:00+00:00"}
    elif route.endswith("/programs/preview"):
        found = {"policy": _policy()}
    elif route.endswith("/condition-check"):
        found = {"expression": "amount > 1000", "sample": {"amount": 5000}}
    elif route.endswith("/refusal"):
        found = {"reason": "matrix"}
    elif route.endswith("/suspension"):
        found = {"reason": "closed"}
    return {"json": found} if found else {}


def _request(world: World, method: str, route: str, target: str) -> tuple[str, dict[str, Any]]:
    city, merchant, wallet = TARGETS[target]
    values = {
        "city": city,
        "merchant": merchant,
        "wallet": wallet,
        "height": "1",
        # The waiting room's own program, so that an opening the matrix schedules does not
        # put the sale of "general" behind a line.
        "program": "matrix" if "/waiting/" in route else "general",
        "key_id": "000000000000",
        "size": "1",
        # Nobody's: an allowed look-up answers its own 404 (not the access rule's).
        "batch_id": "I-matrix",
        "exception_id": "0",
    }
    if "{application}" in route:
        values["application"] = _application(world)
    if "{tx_id}" in route:
        values["tx_id"] = _first_tx_of(world, city, wallet)
    if "{proposal}" in route:
        values["proposal"] = _proposal(world, city)
    if "{batch}" in route:
        values["batch"] = _batch(world, city)
    if route.endswith("/check"):
        values["merchant"] = "m-00004"  # nobody's proposals wait for it: none of its own
    return route.format(**values), _body(route, merchant)


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


def _send(
    world: World, token: str | None, method: str, path: str, sent: dict[str, Any]
) -> httpx.Response:
    """The answer; of a live stream (Server-Sent Events) only its head, then it is closed."""
    headers = {"Idempotency-Key": httpx_key(), **sent.pop("headers", {})}
    with world.client(token) as c, c.stream(method, path, headers=headers, **sent) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        return response


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
            path, sent = _request(world, method, route, target)
            response = _send(world, token, method, path, sent)
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
