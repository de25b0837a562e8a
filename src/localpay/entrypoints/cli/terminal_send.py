"""`localpay terminal send`: one message to a card host over TCP, as a shop's terminal sends
it (entrypoints/cardhost/terminal.py builds and frames it), and the answer in words.

For trying the card host by hand (`make run` prints a demo card and this command). The
STAN is random and the RRN made from the time and the STAN, as terminals number them;
give both again (`--stan`, `--rrn`) to send a duplicate transmission, or `--mti 0400
--rrn R` to reverse the purchase of RRN R. Exit 0 when approved (00), 1 otherwise.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Final

import typer

from localpay.domain.calendar import KST
from localpay.entrypoints.cardhost.terminal import BlockingTerminal, purchase
from localpay.entrypoints.cli.app import fail, out, print_json
from localpay.services.payments.card.pins import pin_block, valid_pin

#: ISO 8583 response codes (field 39) the host answers, in words.
MEANINGS: Final = {
    "00": "approved",
    "14": "invalid card (unknown, lost, blocked or not bound)",
    "30": "format error",
    "51": "insufficient funds",
    "54": "expired card",
    "55": "wrong PIN",
    "57": "not permitted to the cardholder (the program's rules)",
    "58": "not permitted to the terminal (unknown terminal or merchant not eligible)",
    "61": "over the limit",
    "75": "PIN tries exceeded (reset at the counter)",
    "94": "duplicate (same terminal and RRN, other contents; or reversed first)",
    "96": "system malfunction",
}
MTIS: Final = ("0100", "0200", "0400")
#: What field 42 carries for this demo terminal (15 characters, the acceptor id).
ACCEPTOR: Final = "LOCALPAY-TRY   "
BALANCE_ENQUIRY: Final = "310000"


def _reference(stan: int) -> str:
    """The RRN a terminal makes (12 characters): year digit, day of the year, hour, STAN."""
    now = dt.datetime.now(KST)
    return f"{now:%y}"[1] + f"{now:%j%H}" + f"{stan:06d}"


def balance_of(field54: str) -> int | None:
    """The balance in a field 54 entry ("0002410C000000045000": type, currency, sign, won)."""
    if len(field54) != 20 or not field54[8:].isdigit() or field54[7] not in "CD":
        return None
    won = int(field54[8:])
    return won if field54[7] == "C" else -won


def _checked(terminal: str, card: str, amount: int, pin: str | None, mti: str, rrn: str) -> None:
    if len(terminal) != 8 or not (terminal.isascii() and terminal.isalnum()):
        fail("a terminal id is 8 letters or digits (field 41), e.g. GIM00000")
    if len(card) != 16 or not (card.isascii() and card.isdigit()):
        fail("a card number is 16 digits")
    if mti not in MTIS:
        fail(f"--mti is one of {', '.join(MTIS)}, not {mti!r}")
    if amount < 0:
        fail("the amount is whole won, 0 or more")
    if pin is not None and not valid_pin(pin):
        fail("a PIN is 4 to 6 digits")
    if mti == "0400" and not rrn:
        fail("a reversal names the purchase it reverses: --rrn (printed with its answer)")
    if rrn and not (len(rrn) <= 12 and rrn.isascii() and rrn.isprintable()):
        fail("an RRN is up to 12 printable characters")


def send(
    terminal: Annotated[str, typer.Option("--terminal", help="Terminal id (field 41)")],
    card: Annotated[str, typer.Option("--card", help="Card number (16 digits)")],
    amount: Annotated[int, typer.Option("--amount", help="Whole won")] = 0,
    pin: Annotated[str | None, typer.Option("--pin", help="PIN, sent as a format-0 block")] = None,
    mti: Annotated[str, typer.Option("--mti", help="0100 hold, 0200 purchase, 0400 reversal")] = (
        "0200"
    ),
    balance: Annotated[
        bool, typer.Option("--balance", help="A balance enquiry (processing code 31)")
    ] = False,
    stan: Annotated[
        int | None, typer.Option("--stan", min=1, max=999_999, help="Default: random")
    ] = None,
    rrn: Annotated[str, typer.Option("--rrn", help="Default: from the time and STAN")] = "",
    host: Annotated[str, typer.Option("--host", help="The card host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8583,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Send one purchase (or hold, reversal, balance enquiry) to a card host over TCP."""
    _checked(terminal, card, amount, pin, mti, rrn)
    if amount == 0 and not balance and mti != "0400":
        fail("a purchase has an amount above 0 (or ask --balance)")
    number = stan or 1 + secrets.randbelow(999_999)
    fields = purchase(
        number,
        pan=card,
        amount=amount,
        terminal=terminal,
        acceptor=ACCEPTOR,
        mti=mti,
        rrn=rrn or _reference(number),
        pin_block=pin_block(pin, card) if pin else "",
        processing=BALANCE_ENQUIRY if balance else "000000",
    )
    try:
        link = BlockingTerminal(host, port, timeout)
        try:
            answer = link.ask(fields)
        finally:
            link.close()
    except OSError as exc:
        fail(f"no answer from the card host at {host}:{port}: {exc.strerror or exc}")
    if answer is None:
        fail(f"the card host at {host}:{port} closed the connection without an answer")
    _tell(fields, answer, as_json)


def _tell(sent: dict[str, str], answer: dict[str, str], as_json: bool) -> None:
    code = answer.get("39", "")
    left = balance_of(answer.get("54", ""))
    found = {
        "mti": answer.get("t", ""),
        "code": code,
        "meaning": MEANINGS.get(code, "unknown code"),
        "approval": answer.get("38", ""),
        "balance": left,
        "stan": sent["11"],
        "rrn": sent["37"],
    }
    if as_json:
        print_json(found)
    else:
        parts = [f"{found['mti']} {code} {found['meaning']}"]
        if found["approval"]:
            parts.append(f"approval {found['approval']}")
        if left is not None:
            parts.append(f"balance {left:,} won (field 54)")
        parts.append(f"STAN {sent['11']} RRN {sent['37']}")
        out.print(" · ".join(parts), highlight=False, soft_wrap=True)
    if code != "00":
        raise typer.Exit(1)
