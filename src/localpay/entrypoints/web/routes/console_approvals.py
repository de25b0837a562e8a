"""The approvals queue: every pending maker-checker proposal of the city in plain words
(what it does, who made it, when), approved or rejected here by a checker whose key the
server holds; a checker who holds their own key is shown the exact
`localpay official approve` command to sign it on their own device.

The approvals service (services/approvals/service.py) keeps the rules: the maker is
never the checker, an approval repeated changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from localpay.domain.policy import Policy
from localpay.entrypoints.web.context import language, say
from localpay.entrypoints.web.deps import container, person
from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_, won
from localpay.entrypoints.web.labels import CATEGORY_NAMES, area_names
from localpay.entrypoints.web.render import page
from localpay.entrypoints.web.routes.console import console_context, official
from localpay.entrypoints.web.security import check_csrf
from localpay.ledger.state import CityState
from localpay.services.approvals.service import ProposalError, self_held_key
from localpay.services.approvals.views import ProposalView
from localpay.services.identity import access
from localpay.services.identity.service import Principal

router = APIRouter()
Csrf = Annotated[None, Depends(check_csrf)]

SHOWN: Final = 100
RECENT: Final = 10

#: Why an approval was refused, in plain words (the service's codes).
REFUSALS: Final = {
    "same_official": N_("A different official must approve a proposal: not its maker."),
    "forbidden": N_("Only a checker approves another official's proposal."),
    "not_maker": N_("Only its maker withdraws a proposal."),
    "proposal_decided": N_("This proposal was already decided."),
    "proposal_unsigned": N_("The maker has not signed this proposal yet."),
    "signature_required": N_("You hold your own key: approve with the command shown."),
    "not_found": N_("There is no such proposal."),
}


def _checker(request: Request, city: str) -> Principal:
    return person(request, city, lambda p: access.approves(p, city))


def describe(request: Request, state: CityState, view: ProposalView) -> str:
    """What the proposal does, in the page's language."""
    cmd, lang = view.command, language(request)
    match view.kind:
        case "define_program":
            version = _version(state, cmd["program"], cmd["policy"], view.status)
            return say(
                request,
                "Define program %(program)s (%(name)s), version %(version)s",
                program=cmd["program"],
                name=cmd["policy"]["name"],
                version=version,
            )
        case "mint":
            return say(
                request,
                "Mint %(amount)s into %(program)s (trust deposit %(ref)s)",
                amount=won(cmd["amount"], lang),
                program=cmd["program"],
                ref=cmd["won_ref"],
            )
        case "approve_batch":
            return say(
                request,
                "Approve disbursement batch %(batch)s of %(program)s: %(rows)s rows, %(total)s",
                batch=cmd["batch"],
                program=cmd["program"],
                rows=cmd["rows"],
                total=won(cmd["total"], lang),
            )
        case "credit":
            return say(
                request,
                "Credit %(amount)s of %(program)s to wallet %(wallet)s",
                amount=won(cmd["amount"], lang),
                program=cmd["program"],
                wallet=cmd["wallet"],
            )
    return _merchant_or_other(request, view)


def _version(state: CityState, program: str, policy: dict[str, Any], status: str) -> int:
    """The version a define_program makes (pending) or made (submitted: the last version
    equal to it, as the chain encodes it)."""
    found = state.programs.get(program)
    versions = found.versions if found else []
    if status == "pending":
        return len(versions) + 1
    same = [n for n, v in enumerate(versions, 1) if msgspec.to_builtins(v) == policy]
    return same[-1] if same else len(versions)


def _merchant_or_other(request: Request, view: ProposalView) -> str:
    cmd = view.command
    match view.kind:
        case "register_merchant":
            return say(
                request,
                "Register merchant %(merchant)s (%(category)s, %(area)s)",
                merchant=cmd["merchant"],
                category=cmd["category"],
                area=cmd["area"],
            )
        case "approve_merchant":
            return say(request, "Approve merchant %(merchant)s", merchant=cmd["merchant"])
        case "suspend_merchant":
            return say(
                request,
                "Suspend merchant %(merchant)s (reason: %(reason)s)",
                merchant=cmd["merchant"],
                reason=cmd["reason"],
            )
    return say(request, "Ledger command %(kind)s", kind=view.kind)


def _row(request: Request, state: CityState, view: ProposalView) -> dict[str, Any]:
    maker = container(request).identity.principal(view.maker)
    receipt = view.receipt or {}
    return {
        "view": view,
        "what": describe(request, state, view),
        # What the checker approves, in words: the version's rules, not only its name.
        "policy": msgspec.convert(view.command["policy"], Policy)
        if view.kind == "define_program"
        else None,
        "maker": maker.username if maker and maker.username else view.maker,
        "outcome": receipt.get("code"),
    }


@router.get("/c/{city}/console/approvals")
def approvals(request: Request, city: str) -> Response:
    who = official(request, city)
    box = container(request)
    state = box.ledgers.sequencer(city).state
    pending = box.proposals.list(city, "pending", None, SHOWN)
    recent = box.proposals.list(city, "submitted", None, RECENT)
    refused = request.query_params.get("refused", "")
    context = {
        **console_context(request, city, who),
        "pending": [_row(request, state, v) for v in pending],
        "recent": [_row(request, state, v) for v in recent],
        "self_held": self_held_key(who) is not None,
        "base_url": str(request.base_url).rstrip("/"),
        "made": request.query_params.get("made", ""),
        "categories": CATEGORY_NAMES,
        "area_names": area_names(request, city),
        "refused": say(request, REFUSALS[refused]) if refused in REFUSALS else "",
    }
    return page(request, "console/approvals.html", context)


@router.post("/c/{city}/console/approvals/{proposal}/approve")
def approve(request: Request, city: str, proposal: str, _: Csrf) -> Response:
    """Sign with the checker's custodial key; a repeat changes nothing."""
    who = _checker(request, city)
    return _decide(
        request, city, proposal, lambda: container(request).proposals.approve(who, proposal)
    )


@router.post("/c/{city}/console/approvals/{proposal}/reject")
def reject(request: Request, city: str, proposal: str, _: Csrf) -> Response:
    who = _checker(request, city)
    return _decide(
        request, city, proposal, lambda: container(request).proposals.reject(who, proposal)
    )


@router.post("/c/{city}/console/approvals/{proposal}/withdraw")
def withdraw(request: Request, city: str, proposal: str, _: Csrf) -> Response:
    """The maker takes back their own pending proposal (the service's reject)."""
    who = person(request, city, lambda p: access.proposes(p, city))
    proposals = container(request).proposals

    def mine_then_reject() -> ProposalView:
        if proposals.get(city, proposal).maker != who.id:
            raise ProposalError("not_maker", "only its maker withdraws a proposal")
        return proposals.reject(who, proposal)

    return _decide(request, city, proposal, mine_then_reject)


def _decide(request: Request, city: str, proposal: str, call: Any) -> Response:
    back = f"/c/{city}/console/approvals"
    try:
        call()
    except ProposalError as exc:
        if exc.code == "not_found":
            raise PageError(404, N_("There is no such page.")) from None
        code = exc.code if exc.code in REFUSALS else "forbidden"
        return RedirectResponse(f"{back}?refused={code}", status_code=303)
    return RedirectResponse(f"{back}?done={proposal}#recent", status_code=303)
