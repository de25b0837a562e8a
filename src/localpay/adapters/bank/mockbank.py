"""mock-bank (PyPI, MIT) as the trust account's bank: its HTTP client, and `MockBank`,
the settlement service's PayoutBank over it (pain.001.001.09 in; pain.002.001.10 and
camt.053.001.08 out).

What mock-bank is, and how we fit Korean accounts into it:
- Every mock-bank account needs an IBAN; a Korean account has none. We give it a
  synthetic one, "KR" + check digits + the account number (`mock_iban`), and keep the
  real number as its `account_number`, which is what our files name (`Othr/Id`). Its
  statements name the account by that IBAN; `MockBank` reads it back to the number.
- The debtor (the trust account) is found by its number alone. A creditor is one of
  mock-bank's own accounts only under its routing number 999999992 (`ROUTING`), so only
  those can be rejected (closed-account -> AC04); a creditor at any other bank code is
  "at another bank" and simply settles. Our writer takes 3-digit KFTC codes only, so a
  shop held at mock-bank is given the house code `HOUSE_CODE` ("999", assigned to no
  Korean bank) and `MockBank.write` rewrites it to ROUTING before the file leaves.
- mock-bank also sends camt.054 (debit/credit notices), camt.052 (intraday, on request)
  and pacs.004 (returns): we do not use them. Everything they say is on the next
  camt.053 (a return is a CRDT entry with its RtrInf reason), which is what we reconcile.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any, Final

import httpx

from localpay.adapters.iso20022 import camt053, pain001, pain002, safe
from localpay.domain.business_days import bank_holidays
from localpay.domain.errors import Conflict, Refused
from localpay.services.settlement.ports import (
    BankDown,
    Party,
    PaymentReport,
    PayoutFile,
    Sent,
    Statement,
)

TIMEOUT_S: Final = 10.0
#: mock-bank's own routing number: a creditor under it is an account mock-bank holds.
ROUTING: Final = "999999992"
#: The 3-digit code our files give a shop held at mock-bank (rewritten to ROUTING).
HOUSE_CODE: Final = "999"
#: The currency of every account we open there.
KRW: Final = "KRW"
#: Mailbox types we read; everything else is taken and not passed on (see above).
REPORT: Final = "pain.002"
STATEMENT: Final = "camt.053"
#: The trust accounts' ids at mock-bank (one per city; ids are at most 18 characters
#: that matter, letters, digits, ".", "-", "_").
TRUST_PREFIX: Final = "TRUST-"
_MOCK_IBAN: Final = re.compile(r"KR\d{2}(\d{1,17})")


class MockBankRefused(Refused):
    """mock-bank refused a control request (a bad field, a day it cannot move)."""

    code = "mock_bank_refused"


class TrustAccountTaken(Conflict):
    """The city's trust account id at mock-bank holds another account number."""

    code = "trust_account_taken"


def mock_iban(account: str) -> str:
    """The synthetic IBAN mock-bank needs for a Korean account number (ISO 13616 check
    digits over "KR" and the digits; KR is no IBAN country, so it names nothing real)."""
    rest = int("".join(str(int(c, 36)) for c in account + "KR00"))
    return f"KR{98 - rest % 97:02d}{account}"


def domestic(account: str) -> str:
    """The account number behind a synthetic KR IBAN; anything else as it is."""
    found = _MOCK_IBAN.fullmatch(account)
    if found and mock_iban(found.group(1)) == account:
        return found.group(1)
    return account


@dataclass(frozen=True)
class Message:
    """One message mock-bank released: its id there, type (pain.002.001.10, …), the
    mock-bank account it is about, and the XML as bytes."""

    id: int
    type: str
    account: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    """POST /payments: the HTTP status (202 taken, 422 rejected outright) and the JSON."""

    status: int
    body: dict[str, Any]


class MockBankClient:
    """Typed calls over mock-bank's HTTP API. Any connection failure is BankDown (with
    the URL); a refusal of a control request is MockBankRefused with mock-bank's words."""

    def __init__(self, base_url: str, timeout_s: float = TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BankDown(f"mock-bank at {self.base_url} did not answer: {exc}") from None

    def _json(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        answer = self._call(method, path, **kw)
        if answer.status_code not in ok:
            raise MockBankRefused(
                f"mock-bank {method} {path}: {answer.status_code} {_words(answer)}"
            )
        return answer.json()

    def health(self) -> dict[str, Any]:
        found: dict[str, Any] = self._json("GET", "/_mock/health")
        return found

    def today(self) -> dt.date:
        """The bank's own date (its clock moves by /_mock/advance)."""
        return dt.date.fromisoformat(self._json("GET", "/_mock/state")["clock"]["date"])

    def account(self, account_id: str) -> dict[str, Any] | None:
        answer = self._call("GET", f"/_mock/accounts/{account_id}")
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise MockBankRefused(f"mock-bank account {account_id}: {_words(answer)}")
        found: dict[str, Any] = answer.json()
        return found

    def create_account(
        self,
        account_id: str,
        party: Party,
        *,
        balance: int = 0,
        behaviour: str = "accept",
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A KRW account: the holder's name, the number as mock-bank's account_number
        (what our files' Othr/Id names) and its synthetic IBAN. mock-bank keeps no bank
        code: party.bank matters only in the files (see ROUTING)."""
        fields = {
            "id": account_id,
            "name": party.name,
            "iban": mock_iban(party.account),
            "account_number": party.account,
            "currency": KRW,
            "balance": balance,
            "behaviour": behaviour,
            "parameters": parameters or {},
        }
        found: dict[str, Any] = self._json("POST", "/_mock/accounts", (201,), json=fields)
        return found

    def update_account(self, account_id: str, **fields: Any) -> dict[str, Any]:
        """PATCH any of mock-bank's account fields (balance, closed, behaviour, …)."""
        found: dict[str, Any] = self._json("PATCH", f"/_mock/accounts/{account_id}", json=fields)
        return found

    def set_behaviour(
        self, account_id: str, behaviour: str, parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """e.g. "closed-account" on a shop's account: its payouts come back RJCT AC04."""
        return self.update_account(account_id, behaviour=behaviour, parameters=parameters or {})

    def holidays(self) -> list[dt.date]:
        return [dt.date.fromisoformat(d) for d in self._json("GET", "/_mock/holidays")]

    def put_holidays(self, days: list[dt.date]) -> list[dt.date]:
        """Replace the bank's holiday list whole (what is due on a new one moves on)."""
        given = sorted({d.isoformat() for d in days})
        return [dt.date.fromisoformat(d) for d in self._json("PUT", "/_mock/holidays", json=given)]

    def post_payments(self, data: bytes) -> Answer:
        """POST /payments: 202 with the bank's decisions, or 422 rejected outright (a
        DUPL, an FF01); both are answers. Anything else is the bank not working."""
        headers = {"Content-Type": "application/xml"}
        answer = self._call("POST", "/payments", content=data, headers=headers)
        if answer.status_code not in (202, 422):
            raise BankDown(f"mock-bank at {self.base_url} answered {answer.status_code}")
        return Answer(answer.status_code, answer.json())

    def mailbox(self, collect: bool = True, kind: str = "") -> list[Message]:
        """What the bank released, oldest first; `collect` takes them, else a peek."""
        params = {} if collect else {"leave": "1"}
        if kind:
            params["type"] = kind
        rows = self._json("GET", "/_mock/mailbox", params=params)
        return [
            Message(int(r["id"]), str(r["type"]), str(r["account"] or ""), r["body"].encode())
            for r in rows
        ]

    def unread(self, message_id: int) -> None:
        """Put a collected message back in the mailbox."""
        self._json("POST", f"/_mock/mailbox/{message_id}/unread")

    def advance(self, days: int | None = None, to: dt.date | None = None) -> dict[str, Any]:
        """Move bank time by whole calendar days or to midnight of a date; the days'
        statements are released as it passes their ends."""
        if (days is None) == (to is None):
            raise ValueError("advance takes days or to, one of them")
        params = {"days": str(days)} if days is not None else {"to": str(to)}
        found: dict[str, Any] = self._json("POST", "/_mock/advance", params=params)
        return found

    def credit(
        self,
        account_id: str,
        amount: int,
        end_to_end: str,
        payer: str,
        value_date: dt.date | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        """Won arriving in an account from a payer (a citizen's deposit, the city's
        budget transfer): booked on its value date, a CRDT entry on that day's camt.053."""
        fields: dict[str, Any] = {
            "account": account_id,
            "amount": amount,
            "end_to_end_id": end_to_end,
            "debtor": {"name": payer},
        }
        if value_date is not None:
            fields["value_date"] = value_date.isoformat()
        if note:
            fields["note"] = note
        found: dict[str, Any] = self._json("POST", "/_mock/credits", (201,), json=fields)
        return found

    def statements(self, account_id: str) -> list[dict[str, Any]]:
        """The camt.053 statements issued for an account: number, day, opening, closing."""
        found: list[dict[str, Any]] = self._json("GET", f"/_mock/accounts/{account_id}/statements")
        return found


def _words(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("error", ""))[:300]
    except ValueError:
        return answer.text[:300]


def trust_account_id(city: str) -> str:
    return f"{TRUST_PREFIX}{city}"


def ensure_trust_account(
    client: MockBankClient,
    city: str,
    account_number: str,
    bank_code: str,
    name: str,
    opening_won: int,
    closures: frozenset[dt.date] = frozenset(),
) -> Party:
    """The city's KRW trust account at mock-bank (made with `opening_won` if missing;
    never changed if there), and the bank's holidays: Korean public and bank holidays of
    the bank's current and next year plus the city's closures, added to what it has.
    Returns the account as our files' debtor."""
    party = Party(name, bank_code, account_number)
    account_id = trust_account_id(city)
    found = client.account(account_id)
    if found is None:
        client.create_account(account_id, party, balance=opening_won)
    elif found["account_number"] != account_number:
        raise TrustAccountTaken(
            f"{account_id} at mock-bank is account {found['account_number']}, not {account_number}"
        )
    push_holidays(client, closures)
    return party


def push_holidays(client: MockBankClient, closures: frozenset[dt.date] = frozenset()) -> None:
    """Korean holidays (this and next year, by the bank's clock) and `closures` added to
    what the bank's list has already."""
    put_holidays(client, set(client.holidays()) | closures)


def put_holidays(client: MockBankClient, days: set[dt.date] | frozenset[dt.date]) -> None:
    """The bank's holiday list set to `days` and Korea's holidays of the bank's current
    and next year. Today is left out if the bank refuses it: a day something has booked
    on cannot become a holiday (mock-bank answers 409)."""
    today = client.today()
    wanted = bank_holidays(today.year) | bank_holidays(today.year + 1) | days
    try:
        client.put_holidays(sorted(wanted))
    except MockBankRefused:
        client.put_holidays(sorted(wanted - {today}))


class MockBank:
    """The settlement service's PayoutBank at mock-bank, for one city's trust account."""

    name = "mock-bank"
    file_suffix = ".xml"
    media_type = "application/xml"

    def __init__(self, client: MockBankClient, city: str) -> None:
        self.client = client
        self.account_id = trust_account_id(city)

    def write(self, file: PayoutFile) -> bytes:
        data = pain001.write(file)
        if any(line.creditor.bank == HOUSE_CODE for line in file.lines):
            data = _house_to_routing(data)
        return data

    def send(self, msg_id: str, data: bytes) -> Sent:
        """The bank's immediate answer: taken (ACCP/PART, the lines' fate comes in the
        pain.002) or not (RJCT: a DUPL of a MsgId it has, a file it cannot read)."""
        answer = self.client.post_payments(data)
        status = str(answer.body.get("status") or "")
        accepted = answer.status == 202 and status != "RJCT"
        return Sent(accepted, _sent_detail(msg_id, answer.body))

    def collect(self) -> list[PaymentReport | Statement]:
        """The pain.002s and camt.053s about our trust account, oldest first. All or
        nothing: if one cannot be read, every one of ours is put back and the error
        raised, so a later call (after a fix) still finds them."""
        ours: list[Message] = []
        for message in self.client.mailbox(collect=True):
            if message.account == self.account_id:
                ours.append(message)
            elif message.account.startswith(TRUST_PREFIX):
                self.client.unread(message.id)  # another city's: its own MockBank reads it
            # else: a shop's or mock-bank's seeded accounts' statements: not ours to read
        try:
            read = [self._read(message) for message in ours]
        except BaseException:
            for message in ours:
                self.client.unread(message.id)
            raise
        return [found for found in read if found is not None]

    def _read(self, message: Message) -> PaymentReport | Statement | None:
        if message.type.startswith(REPORT):
            report = pain002.read(message.body)
            # A DUPL is the bank refusing a second copy of a file it has: that file's
            # own report stands, and this one would read as the file rejected.
            return None if report.group_reason == "DUPL" else report
        if message.type.startswith(STATEMENT):
            return self.read_statement(message.body)
        return None  # camt.054, camt.052, pacs.004: see the module's docstring

    def closures(self, days: frozenset[dt.date]) -> None:
        """The bank's holiday list: Korea's holidays of this and next year and the city's
        closures, replaced whole (so a closure removed is a business day again)."""
        put_holidays(self.client, days)

    def read_statement(self, data: bytes) -> Statement:
        statement: Statement = camt053.read(data)
        return replace(statement, account=domestic(statement.account))


def _sent_detail(msg_id: str, body: dict[str, Any]) -> str:
    status = str(body.get("status") or "")
    if status == "RJCT":
        return f"{msg_id} RJCT {body.get('reason') or ''}: {body.get('reason_text') or ''}"
    rejected = [
        f"{p['end_to_end_id']} {p['reason']}"
        for p in body.get("payments", [])
        if p.get("outcome") == "rejected"
    ]
    told = f"{msg_id} {status}: {body.get('accepted', 0)} accepted"
    return told + (f", rejected {', '.join(rejected)}" if rejected else "")


def _house_to_routing(data: bytes) -> bytes:
    """Our validated file with the creditor agents under HOUSE_CODE named by ROUTING,
    validated again (MmbId is Max35Text: still valid)."""
    root = safe.parse(data)
    for member in root.iterfind(f".//{{{pain001.NS}}}CdtrAgt//{{{pain001.NS}}}MmbId"):
        if member.text == HOUSE_CODE:
            member.text = ROUTING
    rewritten = pain001.serialize(root)
    safe.validate_ours(rewritten, pain001.XSD)
    return rewritten


def house_number(*parts: str) -> str:
    """A 13-digit account number at mock-bank, the same for the same parts."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return "3333" + str(int(digest[:12], 16))[:9].rjust(9, "0")


def trust_party(city: str, name: str) -> Party:
    """A city's trust account at mock-bank (its house code): our files' debtor."""
    return Party(f"{name} 지역화폐 신탁", HOUSE_CODE, house_number("trust", city))
