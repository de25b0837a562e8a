"""Who may do what: the authorization rules, as pure predicates on a principal.

Tenants are isolated: nothing of one city is visible to another city's people,
a merchant's staff see only their merchant, a citizen only their own wallet.
Auditors read everything of their city and change nothing. Operator
administrators run the installation and read no citizen's or merchant's money.
"""

from __future__ import annotations

from localpay.services.identity.service import CITY_STAFF, MERCHANT_ROLES, OFFICIAL_ROLES, Principal


def reads_wallet(p: Principal, city: str, wallet: str) -> bool:
    if p.city != city:
        return False
    return (p.role == "citizen" and p.wallet == wallet) or p.role in CITY_STAFF


def reads_merchant(p: Principal, city: str, merchant: str) -> bool:
    if p.city != city:
        return False
    return (p.role in MERCHANT_ROLES and p.merchant == merchant) or p.role in CITY_STAFF


def reads_transaction(p: Principal, city: str, parties: set[str]) -> bool:
    """A transaction is visible to its parties and to the city's staff."""
    if p.city != city:
        return False
    if p.role in CITY_STAFF:
        return True
    own = p.wallet if p.role == "citizen" else p.merchant
    return own is not None and own in parties


def own_account(p: Principal | None, city: str) -> str | None:
    """The account whose balances `p` may see: a citizen's wallet, merchant staff's
    merchant; nobody else's, not even the city's staff (who read current balances from
    the account views, never a party's balance inside a transaction)."""
    if p is None or p.city != city:
        return None
    if p.role == "citizen":
        return p.wallet
    return p.merchant if p.role in MERCHANT_ROLES else None


def reads_chain_contents(p: Principal, city: str) -> bool:
    """Whole blocks with every transaction: the city's staff (and, later, witnesses)."""
    return p.staff_of(city)


def refunds_for(p: Principal, city: str, merchant: str) -> bool:
    return p.city == city and p.role in MERCHANT_ROLES and p.merchant == merchant


def pays_out(p: Principal, city: str, merchant: str) -> bool:
    """Only an owner (a person, not an API key) turns a balance into won."""
    return p.city == city and p.role == "merchant_owner" and p.merchant == merchant


def manages_api_keys(p: Principal, city: str, merchant: str) -> bool:
    return pays_out(p, city, merchant)


def proposes(p: Principal, city: str) -> bool:
    return p.city == city and p.role in OFFICIAL_ROLES and p.official_key is not None


def approves(p: Principal, city: str) -> bool:
    return p.city == city and p.role == "city_checker" and p.official_key is not None


def reads_proposals(p: Principal, city: str) -> bool:
    return p.staff_of(city)
