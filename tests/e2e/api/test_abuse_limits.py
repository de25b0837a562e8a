"""Bad and abusive input on a live server, on both stores: every answer a 4xx problem.

Oversized bodies on every route (sign-in included) are refused before they are read;
challenges for wallets that do not exist are refused and not kept; one account name is
throttled after a few failed logins, whether it exists or not; a TOTP code signs in once;
integers past any store's range in paths, queries and cursors are refused.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest

from localpay.bootstrap import open_identity, open_store
from localpay.domain.limits import BODY_BYTES_MAX
from localpay.services.identity.service import Identity, LoginLimits
from localpay.testing.servers import FAST_HASHER, World, live_server, problem_code, seeded_store

HUGE = 10**20  # past SQLite's and PostgreSQL's 64-bit integers
PASSWORD = "long-enough-pass"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("abuse")
    url = seeded_store(request, folder)
    with live_server(url, folder / "keys") as base:
        found = World(base, folder / "keys")
        found.url = url  # type: ignore[attr-defined]
        found.sign_in_everyone()
        yield found


def _is_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem_code(response) == code


# -- bodies ------------------------------------------------------------------------------------


def _raw(world: World, head: bytes) -> socket.socket:
    where = urlsplit(world.base)
    conn = socket.create_connection((where.hostname, where.port), timeout=10)
    conn.sendall(head)
    return conn


def _answer(conn: socket.socket) -> bytes:
    """The response head and what body came, read until the server closes or 10 s pass."""
    data, deadline = b"", time.monotonic() + 10
    while time.monotonic() < deadline and b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_30_mib_login_is_refused_before_its_body_is_read(world: World) -> None:
    size = 30 * 1024 * 1024
    head = (
        f"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with _raw(world, head + b'{"city":"gimpo","username":"maker","password":"' + b"a" * 65536) as c:
        answer = _answer(c)  # nothing more is sent: the server answers without the rest
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"application/problem+json" in answer and time.monotonic() - started < 5
    with world.client() as client:  # and it is still serving
        assert client.get("/healthz").status_code == 200


def test_a_chunked_body_is_refused_once_it_passes_the_limit(world: World) -> None:
    head = (
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    with _raw(world, head) as conn:
        for _ in range(480):  # at most 30 MiB, until the server answers
            if select.select([conn], [], [], 0)[0]:
                break
            try:
                conn.sendall(chunk)
            except OSError:  # the server closed its side after answering
                break
        answer = _answer(conn)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/auth/login",
        "/v1/auth/logout",
        "/v1/cities/gimpo/wallets/w-0000001/challenges",
        "/v1/cities/gimpo/wallets/w-0000001/sessions",
        "/v1/cities/gimpo/checkpoints/1/cosignatures",
        "/v1/cities/gimpo/payments",
    ],
)
def test_every_route_refuses_a_body_past_the_limit(world: World, path: str) -> None:
    body = b'{"password":"' + b"a" * BODY_BYTES_MAX + b'"}'
    with world.client() as client:
        r = client.post(
            path,
            content=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": os.urandom(8).hex()},
        )
        _is_problem(r, 413, "body_too_large")
        at_limit = client.post(path, content=b" " * BODY_BYTES_MAX)
    assert at_limit.status_code != 413  # the limit itself is allowed


# -- challenges --------------------------------------------------------------------------------


def test_a_challenge_for_a_wallet_that_does_not_exist_is_refused_and_not_kept(
    world: World,
) -> None:
    with world.client() as client:
        r = client.post("/v1/cities/gimpo/wallets/w-9999999/challenges")
    _is_problem(r, 404, "not_found")
    store = open_store(world.url)  # type: ignore[attr-defined]
    try:
        kept = store.sql("SELECT count(*) FROM challenges WHERE wallet = 'w-9999999'")
    finally:
        store.close()
    assert kept[0][0] == 0


# -- logins ------------------------------------------------------------------------------------


def _identity(world: World) -> tuple[Identity, object]:
    store = open_store(world.url)  # type: ignore[attr-defined]
    return open_identity(store, lambda: int(time.time() * 1000), FAST_HASHER), store


def _login(
    client: httpx.Client, user: str, password: str, totp: str | None = None
) -> httpx.Response:
    body = {"city": "gimpo", "username": user, "password": password}
    if totp is not None:
        body["totp"] = totp
    return client.post("/v1/auth/login", json=body)


def test_an_account_is_throttled_after_failed_logins_even_with_the_right_password(
    world: World,
) -> None:
    identity, store = _identity(world)
    identity.create_user("gimpo", "city_auditor", "guessed", PASSWORD)
    store.close()  # type: ignore[attr-defined]
    tries = LoginLimits().attempts
    answers = {}
    with world.client() as client:
        for user in ("guessed", "no-such-user"):
            for _ in range(tries):
                _is_problem(_login(client, user, "not-the-password"), 401, "unauthenticated")
            answers[user] = _login(client, user, PASSWORD)
        other = _login(client, "maker", "not-the-password")
    for user, r in answers.items():
        _is_problem(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= LoginLimits().window_ms // 1000, user
    known, unknown = (answers[u].json() for u in ("guessed", "no-such-user"))
    assert {k: v for k, v in known.items() if k != "detail"} == {
        k: v for k, v in unknown.items() if k != "detail"
    }
    assert "token" not in answers["guessed"].text
    _is_problem(other, 401, "unauthenticated")  # other accounts are not affected


def test_a_totp_code_signs_in_once(world: World) -> None:
    identity, store = _identity(world)
    user = identity.create_user("gimpo", "city_auditor", "one-time", PASSWORD)
    secret = identity.enroll_totp(user.id)
    store.close()  # type: ignore[attr-defined]
    code = pyotp.TOTP(secret).now()
    with world.client() as client:
        assert _login(client, "one-time", PASSWORD, code).status_code == 200
        _is_problem(_login(client, "one-time", PASSWORD, code), 401, "unauthenticated")


# -- integers ----------------------------------------------------------------------------------


def _cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


PATH_NUMBERS = [HUGE, 2**62, 2**63, -1, -HUGE]
PATHS = [
    "/v1/cities/gimpo/blocks/{n}",
    "/v1/cities/gimpo/blocks/{n}/transactions",
    "/v1/cities/gimpo/checkpoints/{n}",
]


@pytest.mark.parametrize("template", PATHS)
def test_a_number_out_of_range_in_a_path_names_nothing(world: World, template: str) -> None:
    with world.client(world.tokens["gimpo"]["city_auditor"]) as client:
        for n in PATH_NUMBERS:
            _is_problem(client.get(template.format(n=n)), 404, "not_found")


def test_a_cosignature_for_a_size_out_of_range_names_nothing(world: World) -> None:
    with world.client() as client:
        for n in PATH_NUMBERS:
            r = client.post(
                f"/v1/cities/gimpo/checkpoints/{n}/cosignatures", json={"line": "— w AAAA"}
            )
            _is_problem(r, 404, "not_found")


QUERIES = [
    ("/v1/cities/gimpo/blocks", "limit"),
    ("/v1/cities/gimpo/checkpoints", "limit"),
    ("/v1/cities/gimpo/wallets/w-0000001/transactions", "limit"),
    ("/v1/cities/gimpo/merchants/m-00000/transactions", "limit"),
    ("/v1/cities/gimpo/feed", "from_height"),
    ("/v1/cities/gimpo/feed", "limit"),
    ("/v1/cities/gimpo/proofs/consistency?new=1", "old"),
    ("/v1/cities/gimpo/proofs/consistency?old=1", "new"),
]
CURSORS = [
    "/v1/cities/gimpo/blocks",
    "/v1/cities/gimpo/checkpoints",
    "/v1/cities/gimpo/wallets/w-0000001/transactions",
    "/v1/cities/gimpo/merchants/m-00000/transactions",
    "/v1/cities/gimpo/proposals",
]


@pytest.mark.parametrize(("path", "name"), QUERIES)
def test_a_number_out_of_range_in_a_query_is_invalid(world: World, path: str, name: str) -> None:
    joiner = "&" if "?" in path else "?"
    with world.client(world.tokens["gimpo"]["city_auditor"]) as client:
        for n in (HUGE, 2**62, 2**63, -1, -HUGE):
            _is_problem(client.get(f"{path}{joiner}{name}={n}"), 422, "validation_failed")


@pytest.mark.parametrize("path", CURSORS)
def test_a_cursor_out_of_range_or_malformed_is_invalid(world: World, path: str) -> None:
    bad = [_cursor(HUGE), _cursor(2**62), _cursor(-1), _cursor(10**4000)[:5000], "A" * 100, "%%"]
    with world.client(world.tokens["gimpo"]["city_maker"]) as maker:
        good = _cursor(1) + (".pr-0123456789abcdef" if path.endswith("proposals") else "")
        assert maker.get(path, params={"cursor": good}).status_code == 200
        for cursor in bad:
            _is_problem(maker.get(path, params={"cursor": cursor}), 422, "validation_failed")
