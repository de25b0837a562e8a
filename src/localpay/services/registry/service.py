"""The merchant registry: applications, the officials' approval, suspension, reinstatement.

An application is kept off the chain (ports.py); the BRN, the bank account and the
status token are sealed under the master key. Approval is two official commands through
maker-checker (services/approvals): `register_merchant` (category from the industry
code, area, declared revenue, the salted hash of the BRN; the key made in the server's
key folder) and `approve_merchant`. Once the chain says the merchant is active, the
registry finishes the application: the shop's public name in the directory, the owner's
log-in for the counter screen. It finishes lazily too (on any read), so approvals made
in the console's general approvals queue finish the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable, Mapping
from typing import Final

import msgspec

from localpay.domain import commands as c
from localpay.domain.errors import Conflict, NotFound, Refused
from localpay.domain.principals import Principal
from localpay.domain.proposals import PENDING as PROPOSAL_PENDING
from localpay.ledger.state import Merchant
from localpay.services.approvals.service import Proposals
from localpay.services.approvals.views import ProposalView
from localpay.services.cities.ledgers import Ledgers
from localpay.services.directory.service import Directory
from localpay.services.identity.service import Identity, IdentityError
from localpay.services.registry import accounts, catalog, forms
from localpay.services.registry.accounts import BankAccount
from localpay.services.registry.eligibility import Eligibility, eligibility
from localpay.services.registry.forms import ApplicationForm, BadField
from localpay.services.registry.ports import (
    APPROVED,
    PENDING,
    REFUSED,
    ApplicationRecord,
    Decision,
    RegistryRepository,
    Row,
    Sealer,
    record_of,
    row_of,
)
from localpay.services.registry.throttle import Throttle
from localpay.services.registry.tiers import tier_of

#: Reasons an official may give for a suspension (FRAUD_REASON bars approval a year).
SUSPEND_REASONS: Final = (c.FRAUD_REASON, "ineligible-business", "owner-request", "closed")
LIST_MAX: Final = 200
#: A registration lands before its approval (both may be proposed in one millisecond).
_STEP_ORDER: Final = ("register", "approve", "suspend", "reinstate")
REASON_MAX: Final = 200


class Barred(Refused):
    """Reinstatement refused: the merchant was suspended for cash-out fraud."""

    code = "merchant_barred"

    def __init__(self, until_ms: int) -> None:
        super().__init__("suspended for cash-out fraud: no reinstatement before the bar ends")
        self.until_ms = until_ms


class Secrets(msgspec.Struct, frozen=True):
    """What is sealed: never in the clear at rest, never logged."""

    brn: str
    account: BankAccount
    token: str


class Submitted(msgspec.Struct, frozen=True):
    application: str
    merchant: str
    status: str
    #: The applicant's way back to the status page (shown once per request; repeated
    #: with the same idempotency key it is the same token).
    token: str


class ApplicationView(msgspec.Struct, frozen=True):
    """An application as its applicant and the officials see it: the account masked."""

    id: str
    status: str
    merchant: str
    name: str
    name_en: str
    industry: str
    industry_name: str
    category: str
    area: str
    annual_revenue: int
    revenue_tier: str
    account: str
    owner_username: str
    reason: str
    created_ms: int
    decided_ms: int
    #: The chain's status of the merchant: "" (not registered), pending, active, suspended.
    chain_status: str
    barred_until_ms: int
    eligibility: list[Eligibility]
    #: For officials only (None for the applicant): the BRN, written 123-45-67890.
    brn: str | None = None


class MerchantView(msgspec.Struct, frozen=True):
    merchant: str
    name: str
    category: str
    area: str
    annual_revenue: int
    status: str
    barred_until_ms: int
    pending: list[ProposalView]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _context(record_id: str) -> bytes:
    return f"registry_applications/{record_id}".encode()


class Registry:
    def __init__(
        self,
        records: RegistryRepository,
        ledgers: Ledgers,
        proposals: Proposals,
        identity: Identity,
        directory: Directory,
        master: Sealer,
        clock: Callable[[], int],
    ) -> None:
        self.records = records
        self.ledgers = ledgers
        self.proposals = proposals
        self.identity = identity
        self.directory = directory
        self.master = master
        self.clock = clock
        self.throttle = Throttle()

    # -- what the form offers -------------------------------------------------------------

    def areas(self, city: str) -> list[catalog.Area]:
        """The city's neighbourhoods: its data file, else the directory's names."""
        found = list(catalog.areas(city))
        if found:
            return found
        named = self.directory.area_names(city)
        return [catalog.Area(label, ko, en) for label, (ko, en) in sorted(named.items())]

    def area_labels(self, city: str) -> set[str]:
        return {a.label for a in self.areas(city)}

    # -- the applicant ----------------------------------------------------------------------

    def apply(
        self, city: str, form: ApplicationForm, idempotency_key: str, source: str = ""
    ) -> Submitted:
        """Keep a checked application (BadField names the first wrong field). The same
        idempotency key with the same form answers the same; with another form, Conflict.
        `source` (the sender's address) is throttled: TooManyApplications."""
        checked = forms.check(city, form, self.area_labels(city))
        request_hash = _sha256(msgspec.json.encode(form).decode())
        found = _as_record(self.records.by_idem_key(city, idempotency_key))
        if found is not None:
            return self._again(found, request_hash)
        self.throttle.take(source, self.clock())
        brn_hash = self.registration_hash(city, checked.brn)
        brn_taken, name_taken = self.records.taken(city, brn_hash, checked.owner_username, REFUSED)
        if brn_taken:
            raise BadField("brn", "this business already has an application or a shop here")
        if name_taken:
            raise BadField("owner_username", "this log-in name is taken: choose another")
        record, token = self._record(city, checked, idempotency_key, request_hash, brn_hash)
        if not self.records.add(row_of(record)):  # the same key, at the same moment
            return self._again(self._by_key(city, idempotency_key), request_hash)
        return Submitted(record.id, record.merchant, record.status, token)

    def _by_key(self, city: str, key: str) -> ApplicationRecord:
        found = _as_record(self.records.by_idem_key(city, key))
        assert found is not None, "an insert refused for its key leaves that key's row"
        return found

    def _again(self, found: ApplicationRecord, request_hash: str) -> Submitted:
        if found.request_hash != request_hash:
            raise Conflict("this idempotency key was used with a different application")
        token = self._secrets(found).token
        return Submitted(found.id, found.merchant, found.status, token)

    def _record(
        self, city: str, checked: forms.Checked, key: str, request_hash: str, brn_hash: str
    ) -> tuple[ApplicationRecord, str]:
        record_id, token = f"app-{secrets.token_hex(8)}", secrets.token_urlsafe(24)
        sealed = self.master.seal(
            msgspec.json.encode(Secrets(checked.brn, checked.account, token)), _context(record_id)
        )
        password = self.master.seal(checked.owner_password.encode(), _context(record_id))
        record = ApplicationRecord(
            id=record_id, city=city, status=PENDING, merchant=f"m-{secrets.token_hex(5)}",
            token_hash=_sha256(token), idem_key=key, request_hash=request_hash,
            brn_hash=brn_hash, name=checked.name, name_en=checked.name_en,
            industry=checked.industry.code, category=checked.industry.category,
            area=checked.area, revenue=checked.annual_revenue,
            owner_username=checked.owner_username,
            account_mask=accounts.masked(checked.account), sealed=sealed,
            sealed_password=password, reason="", created_ms=self.clock(), decided_ms=0,
        )  # fmt: skip
        return record, token

    def registration_hash(self, city: str, number: str) -> str:
        """The chain's `registration_hash`: SHA-256 of the city's salt (off the chain) and
        the BRN's ten digits; the same business gives the same hash in one city."""
        salt = self.records.salt(city, secrets.token_hex(16))
        return hashlib.sha256(f"localpay/brn/v1\n{salt}\n{number}".encode()).hexdigest()

    def status(self, city: str, token: str) -> ApplicationView:
        """The applicant's view, by the status token; NotFound for any other token."""
        found = _as_record(self.records.by_token(city, _sha256(token))) if token else None
        if found is None:
            raise NotFound("no application with this status link")
        return self._view(self._finish(found), officials=False)

    # -- officials ------------------------------------------------------------------------

    def applications(self, city: str, status: str | None = None) -> list[ApplicationView]:
        found = [record_of(row) for row in self.records.page(city, status, LIST_MAX)]
        return [self._view(self._finish(r), officials=True) for r in found]

    def application(self, city: str, application: str) -> ApplicationView:
        return self._view(self._finish(self._get(city, application)), officials=True)

    def _get(self, city: str, application: str) -> ApplicationRecord:
        found = _as_record(self.records.get(city, application))
        if found is None:
            raise NotFound(f"no application {application!r} in {city!r}")
        return found

    def approve(self, official: Principal, application: str, key: str) -> list[ProposalView]:
        """The maker's approval: propose what the chain still lacks (register, then
        approve); where the city needs one official, it is on the chain at once."""
        city = official.city
        found = self._pending(city, application)
        made = []
        merchant = self._merchant(city, found.merchant)
        open_steps = {d.step for d in self._open(city, found.merchant)}
        if merchant is None and "register" not in open_steps:
            made.append(self._propose(official, found.merchant, "register", key, {
                "merchant": found.merchant, "category": found.category, "area": found.area,
                "annual_revenue": found.revenue, "registration_hash": found.brn_hash,
            }))  # fmt: skip
        if (merchant is None or merchant.status != "active") and "approve" not in open_steps:
            params = {"merchant": found.merchant}
            made.append(self._propose(official, found.merchant, "approve", key, params))
        self._finish(found)
        return made

    def check(self, checker: Principal, subject: str) -> list[ProposalView]:
        """A checker approves the open proposals of one merchant, oldest first (so the
        registration lands before its approval); stops at the first the ledger refused."""
        done = []
        for decision in self._open(checker.city, subject):
            view = self.proposals.approve(checker, decision.proposal)
            done.append(view)
            if view.receipt is not None and view.receipt.get("code") != "ok":
                break
        found = _as_record(self.records.by_merchant(checker.city, subject))
        if found is not None:
            self._finish(found)
        return done

    def refuse(self, official: Principal, application: str, reason: str) -> ApplicationView:
        city = official.city
        found = self._pending(city, application)
        reason = reason.strip()[:REASON_MAX]
        if not reason:
            raise BadField("reason", "say why the application is refused")
        if self._merchant(city, found.merchant) is not None:
            raise Conflict("the merchant is registered on the chain: suspend it instead")
        for decision in self._open(city, found.merchant):
            with contextlib.suppress(Refused):
                self.proposals.reject(official, decision.proposal)
        self.records.decide(city, application, REFUSED, reason, self.clock(), PENDING)
        return self.application(city, application)

    def suspend(self, official: Principal, merchant: str, reason: str, key: str) -> ProposalView:
        city = official.city
        facts = self._known(city, merchant)
        if reason not in SUSPEND_REASONS:
            raise BadField("reason", f"the reason is one of {', '.join(SUSPEND_REASONS)}")
        if facts.status != "active":
            raise Conflict(f"merchant {merchant} is {facts.status}, not active")
        params = {"merchant": merchant, "reason": reason}
        return self._propose(official, merchant, "suspend", key, params)

    def reinstate(self, official: Principal, merchant: str, key: str) -> ProposalView:
        """Approve a suspended merchant again (the city's rules make it need at least the
        approvals of suspension); refused with the bar's end while barred for fraud."""
        city = official.city
        facts = self._known(city, merchant)
        if facts.status != "suspended":
            raise Conflict(f"merchant {merchant} is {facts.status}, not suspended")
        if self.ledgers.clock() < facts.barred_until_ms:
            raise Barred(facts.barred_until_ms)
        return self._propose(official, merchant, "reinstate", key, {"merchant": merchant})

    def merchants(self, city: str, query: str = "", limit: int | None = None) -> list[MerchantView]:
        """Merchants on the chain with their names and the proposals waiting for them:
        suspended and not yet approved ones first, then by id; `query` matches an id or a
        name (spaces and case ignored); `limit` None: all."""
        names = {s.merchant: (s.name, s.name_en) for s in self.directory.shops(city, limit=None)}
        wanted = query.replace(" ", "").casefold()

        def matches(m: Merchant) -> bool:
            ko, en = names.get(m.id, (m.id, m.id))
            return not wanted or any(
                wanted in t.replace(" ", "").casefold() for t in (m.id, ko, en)
            )

        state = self.ledgers.sequencer(city).state
        found = sorted(
            (m for m in state.merchants.values() if matches(m)),
            key=lambda m: (m.status == "active", m.id),
        )[:limit]
        return [self._merchant_view(city, m, names.get(m.id, (m.id, m.id))[0]) for m in found]

    def merchant(self, city: str, merchant: str) -> MerchantView:
        shop = self.directory.shop(city, merchant)
        name = shop.name if shop else merchant
        return self._merchant_view(city, self._known(city, merchant), name)

    def waiting(self, city: str, subject: str) -> list[ProposalView]:
        """The proposals about a merchant (or an application's merchant) still waiting
        for a checker, oldest first."""
        return [self.proposals.get(city, d.proposal) for d in self._open(city, subject)]

    def eligibility(self, city: str, merchant: str) -> list[Eligibility]:
        """Per program (its current version): may its money be spent at this merchant?"""
        facts = self._known(city, merchant)
        return eligibility(self.ledgers.sequencer(city).state, facts.category, facts.area,
                           facts.annual_revenue)  # fmt: skip

    # -- inside ---------------------------------------------------------------------------

    def _merchant_view(self, city: str, m: Merchant, name: str) -> MerchantView:
        pending = self.waiting(city, m.id)
        return MerchantView(
            m.id, name, m.category, m.area, m.annual_revenue, m.status, m.barred_until_ms, pending
        )

    def _pending(self, city: str, application: str) -> ApplicationRecord:
        found = self._finish(self._get(city, application))
        if found.status != PENDING:
            raise Conflict(f"the application is already {found.status}")
        return found

    def _merchant(self, city: str, merchant: str) -> Merchant | None:
        return self.ledgers.sequencer(city).state.merchants.get(merchant)

    def _known(self, city: str, merchant: str) -> Merchant:
        found = self._merchant(city, merchant)
        if found is None:
            raise NotFound(f"no merchant {merchant!r} in {city!r}")
        return found

    def _open(self, city: str, subject: str) -> list[Decision]:
        """The decisions about `subject` whose proposal still waits for approvals."""
        waiting = []
        made = [Decision(*d) for d in self.records.decisions(city, subject)]  # ms may hold both
        for decision in sorted(made, key=lambda d: (d.created_ms, _STEP_ORDER.index(d.step))):
            with contextlib.suppress(Refused):
                if self.proposals.get(city, decision.proposal).status == PROPOSAL_PENDING:
                    waiting.append(decision)
        return waiting

    def _propose(
        self, official: Principal, subject: str, step: str, key: str, params: Mapping[str, object]
    ) -> ProposalView:
        kind = {
            "register": "register_merchant",
            "approve": "approve_merchant",
            "suspend": "suspend_merchant",
            "reinstate": "approve_merchant",
        }[step]
        # The proposal first, then its record: a crash between them leaves a proposal the
        # same request finds again (the same idempotency key makes the same proposal).
        made = self.proposals.propose(
            official, kind, dict(params), f"registry:{subject}:{step}:{key}"
        )
        self.records.add_decision(official.city, made.id, subject, step, self.clock())
        return made

    def _finish(self, found: ApplicationRecord) -> ApplicationRecord:
        """A pending application whose merchant the chain says is active: the shop's name
        in the directory, the owner's log-in, the application approved. Repeatable."""
        if found.status != PENDING:
            return found
        merchant = self._merchant(found.city, found.merchant)
        if merchant is None or merchant.status != "active":
            return found
        self.directory.name_shop(found.city, found.merchant, found.name, found.name_en,
                                 self.clock())  # fmt: skip
        if found.sealed_password is not None:
            password = self.master.open(found.sealed_password, _context(found.id)).decode()
            with contextlib.suppress(IdentityError):  # made by an earlier, interrupted finish
                self.identity.create_user(
                    found.city, "merchant_owner", found.owner_username, password, found.merchant
                )
            self.records.forget_password(found.city, found.id)
        self.records.decide(found.city, found.id, APPROVED, "", self.clock(), PENDING)
        return self._get(found.city, found.id)

    def _secrets(self, found: ApplicationRecord) -> Secrets:
        return msgspec.json.decode(self.master.open(found.sealed, _context(found.id)), type=Secrets)

    def _view(self, found: ApplicationRecord, officials: bool) -> ApplicationView:
        merchant = self._merchant(found.city, found.merchant)
        industry = catalog.industry(found.industry)
        state = self.ledgers.sequencer(found.city).state
        shown = found.status == APPROVED or officials
        return ApplicationView(
            id=found.id, status=found.status, merchant=found.merchant, name=found.name,
            name_en=found.name_en, industry=found.industry,
            industry_name=industry.name_ko if industry else found.industry,
            category=found.category, area=found.area, annual_revenue=found.revenue,
            revenue_tier=tier_of(found.revenue), account=found.account_mask,
            owner_username=found.owner_username, reason=found.reason,
            created_ms=found.created_ms, decided_ms=found.decided_ms,
            chain_status=merchant.status if merchant else "",
            barred_until_ms=merchant.barred_until_ms if merchant else 0,
            eligibility=(
                eligibility(state, found.category, found.area, found.revenue) if shown else []
            ),
            brn=_formatted(self._secrets(found).brn) if officials else None,
        )  # fmt: skip


def _as_record(row: Row | None) -> ApplicationRecord | None:
    return None if row is None else record_of(row)


def _formatted(number: str) -> str:
    return f"{number[:3]}-{number[3:5]}-{number[5:]}"
