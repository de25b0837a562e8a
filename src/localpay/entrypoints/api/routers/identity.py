"""Sign-in and keys: officials and merchants by password (+TOTP), citizens by wallet key."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, Field

from localpay.domain.errors import NotFound
from localpay.entrypoints.api.auth import SESSION_COOKIE
from localpay.entrypoints.api.deps import (
    ContainerDep,
    IdentityDep,
    SignedIn,
    allow,
    known_city,
    principal_of,
)
from localpay.entrypoints.api.problems import ApiProblem, responses
from localpay.services.identity import access
from localpay.services.identity.service import AuthError, Identity, Throttled, login_message

router = APIRouter(tags=["identity"])

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]


class Login(BaseModel):
    city: Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9-]{1,30})$", description="city id, or *")]
    username: Name
    # No control characters: no store can keep a NUL, and none belongs in a password.
    password: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]
    totp: Annotated[str | None, Field(default=None, pattern=r"^[0-9]{6}$")] = None


class CitizenLogin(BaseModel):
    nonce: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    signature: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class NewApiKey(BaseModel):
    label: Annotated[str, Field(min_length=1, max_length=80)]


def _session_response(
    request: Request, identity: Identity, response: Response, token: str
) -> dict[str, Any]:
    principal = identity.authenticate(token)
    assert principal is not None
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=secure, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return {"token": token, "principal": _principal_json(principal)}


def _principal_json(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "city": p.city,
        "role": p.role,
        "username": p.username,
        "merchant": p.merchant,
        "wallet": p.wallet,
    }


@router.post(
    "/v1/auth/login",
    summary="Sign in with user name, password and TOTP code",
    responses=responses("unauthenticated", "validation_failed", "rate_limited"),
)
def login(
    request: Request, identity: IdentityDep, response: Response, body: Login
) -> dict[str, Any]:
    try:
        token = identity.login(body.city, body.username, body.password, body.totp)
    except Throttled as exc:
        raise _throttled(exc) from None
    except AuthError as exc:
        raise ApiProblem("unauthenticated", str(exc)) from None
    return _session_response(request, identity, response, token)


@router.post(
    "/v1/auth/logout",
    status_code=204,
    summary="End this session",
    responses=responses("unauthenticated"),
)
def logout(request: Request, identity: IdentityDep, _: SignedIn) -> Response:
    header = request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip() or request.cookies.get(SESSION_COOKIE, "")
    identity.logout(token)
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE)
    return out


@router.get(
    "/v1/auth/me", summary="Who this token belongs to", responses=responses("unauthenticated")
)
def me(principal: SignedIn) -> dict[str, Any]:
    return _principal_json(principal)


@router.post(
    "/v1/cities/{city}/wallets/{wallet}/challenges",
    summary="A one-time challenge for a citizen to sign with the wallet key",
    responses=responses("not_found", "rate_limited"),
)
def challenge(container: ContainerDep, city: str, wallet: str) -> dict[str, str]:
    known_city(container, city)
    try:
        nonce = container.identity.challenge(city, wallet)
    except NotFound as exc:  # no challenge is kept for a wallet that could never answer it
        raise ApiProblem("not_found", str(exc)) from None
    except Throttled as exc:
        raise _throttled(exc) from None
    return {"nonce": nonce, "sign": login_message(city, wallet, nonce).hex()}


def _throttled(exc: Throttled) -> ApiProblem:
    retry = str(exc.retry_after_s)
    return ApiProblem("rate_limited", str(exc), {"Retry-After": retry})


@router.post(
    "/v1/cities/{city}/wallets/{wallet}/sessions",
    summary="Sign in as a citizen: the challenge signed by a key of the wallet",
    responses=responses("unauthenticated", "validation_failed"),
)
def citizen_session(
    request: Request,
    identity: IdentityDep,
    response: Response,
    city: str,
    wallet: str,
    body: CitizenLogin,
) -> dict[str, Any]:
    try:
        token = identity.citizen_login(city, wallet, body.nonce, body.key, body.signature)
    except AuthError as exc:
        raise ApiProblem("unauthenticated", str(exc)) from None
    return _session_response(request, identity, response, token)


@router.get(
    "/v1/cities/{city}/merchants/{merchant}/api-keys",
    summary="A merchant's API keys",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def list_api_keys(
    request: Request, identity: IdentityDep, city: str, merchant: str
) -> dict[str, Any]:
    allow(request, lambda p: access.manages_api_keys(p, city, merchant))
    keys = [dataclasses.asdict(k) for k in identity.api_keys(city, merchant)]
    return {"items": keys, "next": None}


@router.post(
    "/v1/cities/{city}/merchants/{merchant}/api-keys",
    status_code=201,
    summary="Issue an API key for the merchant's server (shown once)",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def create_api_key(
    request: Request,
    identity: IdentityDep,
    response: Response,
    city: str,
    merchant: str,
    body: Annotated[NewApiKey, Body()],
) -> dict[str, str]:
    allow(request, lambda p: access.manages_api_keys(p, city, merchant))
    key_id, key = identity.issue_api_key(city, merchant, body.label)
    response.headers["Cache-Control"] = "no-store"  # a secret: never cached, never replayed
    return {"id": key_id, "key": key}


@router.delete(
    "/v1/cities/{city}/merchants/{merchant}/api-keys/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    responses=responses("unauthenticated", "forbidden", "not_found"),
)
def revoke_api_key(
    request: Request, identity: IdentityDep, city: str, merchant: str, key_id: str
) -> Response:
    allow(request, lambda p: access.manages_api_keys(p, city, merchant))
    if not identity.revoke_api_key(city, merchant, key_id):
        raise ApiProblem("not_found", f"no active key {key_id!r}")
    return Response(status_code=204)


def whoami(request: Request) -> str:
    """Scope for rate limits and idempotency: the principal, else the client address."""
    principal = principal_of(request)
    if principal is not None:
        return principal.id
    return f"ip:{request.client.host if request.client else '-'}"
