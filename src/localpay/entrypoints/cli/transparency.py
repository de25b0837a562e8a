"""`localpay verify-receipt`: check a transaction receipt offline, one line per check.

Needs no store and no network: everything is in the receipt, and the keys that make
it trustworthy (the city's operator key, its witnesses' keys) can be pinned on the
command line. tools/verify_receipt.py makes the same checks with no localpay code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from localpay.entrypoints.cli.app import fail
from localpay.services.transparency.verifier import PinError, check_pins, verify_receipt

commands = typer.Typer()


def _witness(spec: str) -> tuple[str, str]:
    name, sep, key = spec.partition("=")
    if not sep or not name or not key:
        fail(f"--witness takes NAME=HEX, got {spec!r}", 2)
    return name, key.lower()


@commands.command("verify-receipt")
def verify_receipt_command(
    receipt: Annotated[Path, typer.Argument(help="The receipt JSON (GET .../receipt)")],
    operator_key: Annotated[
        str | None,
        typer.Option(
            "--operator-key",
            help="The city's operator public key (hex), from a source you trust (never the"
            " receipt). Required, unless --allow-unpinned.",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="NAME=HEX: pin the city's witness set (repeat for each witness); needs"
            " --quorum. Without it, finality is not checked.",
        ),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(min=1, help="Cosignatures of pinned witnesses needed for finality"),
    ] = None,
    require_final: Annotated[
        bool,
        typer.Option(
            "--require-final", help="Fail unless the pinned witnesses' quorum cosigned it"
        ),
    ] = False,
    allow_unpinned: Annotated[
        bool,
        typer.Option(
            "--allow-unpinned",
            help="Take unpinned keys (and the quorum) from the receipt itself: proves the"
            " receipt consistent, not who signed it (SELF-ASSERTED)",
        ),
    ] = False,
) -> None:
    """Verify a transaction receipt offline: leaf, inclusion proof, operator signature,
    witnesses' cosignatures, quorum. Exit 0 if every check passes, 1 if one fails, 2 on
    unusable options (e.g. --witness without --quorum)."""
    pinned = [_witness(w) for w in witness] if witness else None
    try:
        check_pins(pinned, quorum, require_final)
    except PinError as exc:
        fail(str(exc), 2)
    try:
        data = json.loads(receipt.read_bytes())
    except OSError as exc:
        fail(f"cannot read {receipt}: {exc.strerror or exc}", 2)
    except ValueError as exc:
        typer.echo(f"FAIL format: {receipt} is not JSON ({exc})")
        raise typer.Exit(1) from None
    checks = verify_receipt(data, operator_key, pinned, quorum, require_final, allow_unpinned)
    for check in checks:
        typer.echo(check.line())
    raise typer.Exit(1 if any(c.status == "FAIL" for c in checks) else 0)
