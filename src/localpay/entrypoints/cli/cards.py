"""`localpay card ...` and `localpay terminal ...`: the counter services for officials
(and terminals for merchants' owners), as the signed-in person, through the server's API:
the same rules, the same idempotency and the same ledger as the console's pages.

Each command signs in (the password from a prompt or `--password-stdin`) and sends one
request with a fresh Idempotency-Key. A refusal is one line on stderr and exit 1.
"""

from __future__ import annotations

import getpass
import sys
import uuid
from typing import Annotated, Any

import httpx
import typer

from localpay.entrypoints.cli.app import CityOpt, fail, out, print_json
from localpay.entrypoints.cli.terminal_send import send

cards = typer.Typer(help="Prepaid cards at the counter (officials)", no_args_is_help=True)
terminals = typer.Typer(help="Card terminals of merchants", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(cards, name="card")
commands.add_typer(terminals, name="terminal")

UrlOpt = Annotated[
    str, typer.Option("--url", envvar="LOCALPAY_URL", help="The server, e.g. http://127.0.0.1:8000")
]
UserOpt = Annotated[str, typer.Option("--username", help="Your log-in")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input")
]
CardArg = Annotated[str, typer.Argument(help="The card's id (64 hex, from `card show`)")]
DEFAULT_URL = "http://127.0.0.1:8000"


class _Session:
    """One signed-in person's requests to the server."""

    def __init__(self, url: str, city: str, username: str, stdin: bool) -> None:
        password = sys.stdin.readline().rstrip("\n") if stdin else getpass.getpass()
        self.city = city
        self.client = httpx.Client(base_url=url, timeout=60)
        login = {"city": city, "username": username, "password": password}
        r = self._send("POST", "/v1/auth/login", login, None)
        if r.status_code != 200:
            fail(_problem(r))
        self.token = str(r.json()["token"])

    def _send(
        self, method: str, path: str, body: Any, token: str | None, key: bool = False
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        try:
            return self.client.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            fail(f"cannot reach {self.client.base_url}: {exc}")

    def call(self, method: str, path: str, body: Any = None, ok: int = 200) -> Any:
        r = self._send(method, f"/v1/cities/{self.city}{path}", body, self.token, method == "POST")
        if r.status_code != ok:
            fail(_problem(r))
        return None if ok == 204 else r.json()


def _problem(r: httpx.Response) -> str:
    try:
        found = r.json()
    except ValueError:
        return f"HTTP {r.status_code}"
    return f"{found.get('code', r.status_code)}: {found.get('detail') or found.get('title', '')}"


def _card_line(card: dict[str, Any]) -> str:
    pin = "PIN locked" if card["pin_locked"] else "PIN" if card["pin"] else "no PIN"
    bound = "bound" if card["bound"] else "not bound"
    return (
        f"{card['masked']}  {card['status']:<8} expires {card['expiry'][2:]}/{card['expiry'][:2]}"
        f"  {pin}  {bound}  wallet {card['wallet']}  id {card['card']}"
    )


def _issued(found: dict[str, Any]) -> None:
    number = found["number"]
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    out.print(f"card number (shown once): [bold]{grouped}[/]", highlight=False, soft_wrap=True)
    out.print(_card_line(found["view"]), highlight=False, soft_wrap=True)
    if found.get("bind"):
        out.print("the wallet's holder signs this BindCard and sends it to /cards/bindings:")
        out.print(found["bind"], highlight=False, soft_wrap=True)


@cards.command("issue")
def issue(
    city: CityOpt,
    username: UserOpt,
    wallet: Annotated[
        str | None, typer.Option(help="An existing wallet; without it a new card-only wallet")
    ] = None,
    pin: Annotated[bool, typer.Option("--pin", help="Ask for a PIN (typed, not shown)")] = False,
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """Issue a card; its number is printed this once."""
    session = _Session(url, city, username, password_stdin)
    chosen = getpass.getpass("card PIN (4-6 digits): ") if pin else None
    _issued(session.call("POST", "/cards", {"wallet": wallet, "pin": chosen}, ok=201))


@cards.command("show")
def show(
    city: CityOpt,
    username: UserOpt,
    wallet: Annotated[str, typer.Argument(help="The wallet, e.g. wc-1a2b3c4d5e6f7a8b")],
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A wallet's cards (last 4, status, expiry, PIN) and its balance per program."""
    session = _Session(url, city, username, password_stdin)
    found = session.call("GET", f"/wallets/{wallet}/cards")
    balance = session.call("GET", f"/wallets/{wallet}/card-balance")
    if json_out:
        print_json({"cards": found, "balance": balance})
        return
    for card in found:
        out.print(_card_line(card), highlight=False, soft_wrap=True)
    programs = ", ".join(f"{p['program']} {p['amount']:,}" for p in balance["by_program"])
    out.print(
        f"balance {balance['balance']:,} won ({programs or 'nothing'})",
        highlight=False,
        soft_wrap=True,
    )


def _mark(city: str, username: str, card: str, what: str, url: str, stdin: bool) -> None:
    session = _Session(url, city, username, stdin)
    out.print(
        _card_line(session.call("POST", f"/cards/{card}/{what}")), highlight=False, soft_wrap=True
    )


@cards.command("block")
def block(
    city: CityOpt,
    username: UserOpt,
    card: CardArg,
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """Block a card: every terminal refuses it from now on."""
    _mark(city, username, card, "block", url, password_stdin)


@cards.command("lost")
def lost(
    city: CityOpt,
    username: UserOpt,
    card: CardArg,
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """Report a card lost: every terminal refuses it from now on."""
    _mark(city, username, card, "lost", url, password_stdin)


@cards.command("reissue")
def reissue(
    city: CityOpt,
    username: UserOpt,
    card: CardArg,
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """A new card for the same wallet (the PIN carried over); the number printed once."""
    session = _Session(url, city, username, password_stdin)
    _issued(session.call("POST", f"/cards/{card}/reissue", ok=201))


@cards.command("pin")
def pin(
    city: CityOpt,
    username: UserOpt,
    card: CardArg,
    remove: Annotated[bool, typer.Option("--remove", help="No PIN any more")] = False,
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set or reset a card's PIN (typed, not shown); unlocks a locked PIN."""
    session = _Session(url, city, username, password_stdin)
    chosen = None if remove else getpass.getpass("new card PIN (4-6 digits): ")
    out.print(
        _card_line(session.call("POST", f"/cards/{card}/pin", {"pin": chosen})), soft_wrap=True
    )


@cards.command("topup")
def topup(
    city: CityOpt,
    username: UserOpt,
    wallet: Annotated[str, typer.Argument(help="A card-only wallet")],
    amount: Annotated[int, typer.Argument(help="Won taken in cash", min=1)],
    program: Annotated[str, typer.Option(help="The sale program bought")] = "general",
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """Top up a card-only wallet with cash taken at the counter."""
    session = _Session(url, city, username, password_stdin)
    done = session.call("POST", f"/wallets/{wallet}/top-ups",
                        {"program": program, "amount": amount}, ok=201)  # fmt: skip
    out.print(
        f"{wallet}: paid {done['paid']:,} won, credited {done['credited']:,};"
        f" balance {done['balance']['balance']:,} won",
        highlight=False,
        soft_wrap=True,
    )


@terminals.command("add")
def add(
    city: CityOpt,
    username: UserOpt,
    terminal: Annotated[str, typer.Argument(help="The terminal id (8 letters or digits)")],
    merchant: Annotated[str, typer.Argument(help="The merchant, e.g. m-00042")],
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """Register a terminal to a merchant (an official, or the merchant's owner)."""
    session = _Session(url, city, username, password_stdin)
    done = session.call("POST", "/terminals", {"terminal": terminal, "merchant": merchant}, 201)
    out.print(
        f"terminal {done['terminal']}: merchant {done['merchant']}", highlight=False, soft_wrap=True
    )


@terminals.command("list")
def list_terminals(
    city: CityOpt,
    username: UserOpt,
    merchant: Annotated[str | None, typer.Option(help="Only this merchant's")] = None,
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """The city's terminals (or one merchant's)."""
    session = _Session(url, city, username, password_stdin)
    query = f"?merchant={merchant}" if merchant else ""
    for found in session.call("GET", f"/terminals{query}"):
        out.print(f"{found['terminal']}  {found['merchant']}", highlight=False, soft_wrap=True)


@terminals.command("remove")
def remove(
    city: CityOpt,
    username: UserOpt,
    terminal: Annotated[str, typer.Argument(help="The terminal id")],
    url: UrlOpt = DEFAULT_URL,
    password_stdin: PasswordStdin = False,
) -> None:
    """Remove a terminal: its requests are refused (58) from now on."""
    session = _Session(url, city, username, password_stdin)
    session.call("DELETE", f"/terminals/{terminal}", ok=204)
    out.print(f"terminal {terminal}: removed", highlight=False, soft_wrap=True)


# One message to a card host over TCP, for trying the host by hand (terminal_send.py).
terminals.command("send")(send)
