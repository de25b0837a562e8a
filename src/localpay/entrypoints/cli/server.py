"""`localpay serve` and `localpay up` (`make run`): the HTTP API with every city's sequencer."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from localpay import bootstrap
from localpay.adapters.bank.process import MockBankProcess
from localpay.adapters.clock import now_ms
from localpay.adapters.secrets import (
    MasterKey,
    MasterKeyMissing,
    default_master_key_path,
    write_master_key_file,
)
from localpay.domain.errors import LocalpayError
from localpay.entrypoints.cli.app import CityOpt, Settings, beside_store, err, fail, opened, out
from localpay.entrypoints.cli.cardhost import CARD_PORT, CardPort, start_card_host
from localpay.entrypoints.cli.cities import verify
from localpay.entrypoints.cli.sim import demo
from localpay.ledger.ports import LeaseHeld, StoreError
from localpay.services.cities.ledgers import MissingKey

commands = typer.Typer()


@commands.command()
def up(
    ctx: typer.Context,
    city: CityOpt = "gimpo",
    citizens: Annotated[int, typer.Option(min=1)] = 2000,
    merchants: Annotated[int, typer.Option(min=1)] = 200,
    days: Annotated[int, typer.Option(min=1)] = 30,
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    bank_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the simulated bank")
    ] = 8600,
    card_port: CardPort = CARD_PORT,
    payout_bank_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of mock-bank, the trust account's bank")
    ] = 8690,
) -> None:
    """`make run`: seed the demo city if the store has none, verify it, then serve it."""
    from localpay.sim.demo import demo_checker, demo_directory, demo_users  # noqa: PLC0415

    master = _demo_master_key(ctx)
    with opened(ctx) as store:
        present = city in store.cities()
    if not present:
        out.print(
            f"seeding demo city [bold]{city}[/] ({citizens:,} citizens, "
            f"{merchants:,} merchants, {days} days)…"
        )
        demo(ctx, city=city, name="김포시", citizens=citizens, merchants=merchants, days=days)
    verify(ctx, city=city)
    checker_key, checker_public = _hand_over_checker_key(ctx, city, master)
    with opened(ctx) as store:
        identity = bootstrap.open_identity(store, now_ms, master=master)
        demo_checker(identity, city, checker_public)
        logins = demo_users(identity, city)
        demo_directory(bootstrap.open_directory(store), city, now_ms())
    base = f"http://{host}:{port}"
    out.print(
        f"\n[bold]localpay is running[/]: API {base}/v1/cities/{city} · "
        f"docs {base}/docs · OpenAPI {base}/openapi.json · health {base}/readyz"
    )
    _print_pages(base, city)
    _print_demo_citizen(ctx, city, base, master)
    out.print(
        f"demo log-ins for {city} (the staff sign-in page {base}/c/{city}/login,"
        f" or POST {base}/v1/auth/login):"
    )
    for username, role, password in logins:
        out.print(f"  {username:<8} {role:<17} password {password}")
    out.print(
        "the checker holds their own key, outside the server's key folder; sign as checker:\n"
        f"  uv run localpay official approve PROPOSAL --city {city} --username checker"
        f" --key {checker_key}",
        highlight=False,
        soft_wrap=True,
    )
    _print_try_card(ctx, city, host, card_port, master)
    out.print("explore the chain: uv run localpay status --city gimpo · uv run localpay verify")
    _print_witnesses(ctx, city, base, master)
    payout_bank = _start_payout_bank(ctx, city, master, payout_bank_port)
    try:
        bank = _start_demo_bank(ctx, master, f"{base}/v1/bank/deposits", bank_port, payout_bank.url)
        serve(ctx, host=host, port=port, log_level="warning", bank=bank, card_port=card_port)
    finally:
        payout_bank.stop()


def _start_payout_bank(
    ctx: typer.Context, city: str, master: MasterKey, port: int
) -> MockBankProcess:
    """mock-bank as its own process, the trust account's bank (pain.001 in; pain.002 and
    camt.053 out), set up for the demo city: the trust account, a bank account for every
    shop, each shop's payout account registered on the chain. The server finds it by
    LOCALPAY_PAYOUT_BANK."""
    from localpay.adapters.bank.mockbank import MockBankClient  # noqa: PLC0415
    from localpay.adapters.bank.process import start  # noqa: PLC0415
    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415
    from localpay.adapters.sql.settlement import SqlSettlement  # noqa: PLC0415
    from localpay.services.cities.ledgers import Ledgers  # noqa: PLC0415
    from localpay.sim.settlement import seed  # noqa: PLC0415

    settings: Settings = ctx.obj
    try:
        running = start(beside_store(settings) / "mock-bank", port=port)
    except LocalpayError as exc:
        fail(f"mock-bank did not start on port {port}: {exc}")
    keys = KeyStore(bootstrap.keys_root(settings.db, settings.keys), master)
    client = MockBankClient(running.url)
    with opened(ctx) as store:
        ledgers = Ledgers(store, keys, now_ms)
        try:
            service = bootstrap.open_settlement(ledgers, SqlSettlement(store, master), running.url)
            seed(service, client, city, "김포시", now_ms())
        finally:
            ledgers.close()
            client.close()
    os.environ["LOCALPAY_PAYOUT_BANK"] = running.url
    out.print(f"mock-bank: {running.url}/ (the trust account's bank: ISO 20022 files)")
    return running


def _start_demo_bank(
    ctx: typer.Context, master: MasterKey, notify: str, port: int, trust_bank: str = ""
) -> str:
    """The simulated bank (sim/bank) beside the server, in a thread of this process: the
    citizen's "banking app" for the buy page. Its secret is the one in the key store."""
    from localpay.adapters.bank.http import bank_secret  # noqa: PLC0415
    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415
    from localpay.sim.bank.server import BankServer  # noqa: PLC0415

    settings: Settings = ctx.obj
    keys = KeyStore(bootstrap.keys_root(settings.db, settings.keys), master)
    db = beside_store(settings) / "bank.db"
    try:
        bank = BankServer(db, notify, bank_secret(keys), port, mock_bank=trust_bank).start()
    except (OSError, RuntimeError) as exc:
        fail(f"the simulated bank did not start on port {port}: {exc}")
    out.print(f"simulated bank: {bank.url}/ (a citizen's banking app)", highlight=False)
    return bank.url


def _demo_master_key(ctx: typer.Context) -> MasterKey:
    """The master key given, else the default file (made now if missing, 0600, in the
    user's configuration folder: never beside the data). Says where it is."""
    settings: Settings = ctx.obj
    try:
        master = bootstrap.master_key(settings.db, settings.keys, settings.master_key)
    except MasterKeyMissing:
        path = default_master_key_path()
        made = MasterKey.generate(1, f"the master key file {path}")
        write_master_key_file(path, made)
        out.print(f"made a demo master key in {path} (mode 0600; keep it away from the data)")
        master = bootstrap.master_key(settings.db, settings.keys, settings.master_key)
    out.print(f"secrets at rest are sealed under master key v{master.version} ({master.source})")
    return master


def _hand_over_checker_key(ctx: typer.Context, city: str, master: MasterKey) -> tuple[Path, str]:
    """Maker-checker means two people: the demo server keeps the maker's key (so the
    console can propose), and hands the checker's out of its key folder to where the
    checker keeps it (`officials/` beside the store), so no one place holds both."""
    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415

    settings: Settings = ctx.obj
    root = bootstrap.keys_root(settings.db, settings.keys)
    held = beside_store(settings) / "officials"
    destination = held / city / "checker.key"
    public = KeyStore(root, master).hand_over(city, "official-checker", destination)
    return destination, bytes(public).hex()


def _print_pages(base: str, city: str) -> None:
    """The pages people use (entrypoints/web), Korean first; English and senior mode are
    one tap away on every page."""
    out.print("pages (Korean first; English and large text from every page's header):")
    for what, path in (
        ("start", "/"),
        ("citizen's wallet", f"/c/{city}/wallet/"),
        ("buy at a discount", f"/c/{city}/wallet/buy"),
        ("pay by QR", f"/c/{city}/wallet/scan"),
        ("show a pay code", f"/c/{city}/wallet/code"),
        ("shop counter", f"/c/{city}/counter/"),
        ("counter: QR", f"/c/{city}/counter/charge"),
        ("counter: code", f"/c/{city}/counter/code"),
        ("cards (console)", f"/c/{city}/console/cards"),
        ("shop application", f"/c/{city}/merchants/apply"),
        ("city console", f"/c/{city}/console/"),
        ("public explorer", f"/c/{city}/explorer/"),
        ("staff sign-in", f"/c/{city}/login"),
    ):
        out.print(f"  {what:<17} {base}{path}", highlight=False)


def _print_demo_citizen(ctx: typer.Context, city: str, base: str, master: MasterKey) -> None:
    """A demo citizen to try the wallet with: the simulation derived their key, so the
    demo can print its recovery code (a real citizen's key is made in their browser and
    never seen by the server)."""
    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415
    from localpay.services.cities.inspect import wallet_view  # noqa: PLC0415
    from localpay.services.wallets.recovery import recovery_code  # noqa: PLC0415
    from localpay.sim.demo import DEMO_SECRET, derived_key  # noqa: PLC0415

    settings: Settings = ctx.obj
    keys = KeyStore(bootstrap.keys_root(settings.db, settings.keys), master)
    if DEMO_SECRET not in keys.names(city):
        return
    wallet = "w-0000001"
    with opened(ctx) as store:
        balance = wallet_view(store, city, wallet).balance
    code = recovery_code(bytes(derived_key(bytes(keys.load(city, DEMO_SECRET)), wallet)))
    out.print(
        f"a demo citizen ({balance:,}원): {base}/c/{city}/wallet/restore, the wallet number"
        f" {wallet} and the recovery code\n  {code}",
        highlight=False,
    )


def _print_try_card(
    ctx: typer.Context, city: str, host: str, card_port: int, master: MasterKey
) -> None:
    """The demo's card to try the card host with, and the command that sends a purchase
    to it: demo data, so its number is printed (a real card's is shown once, at issue)."""
    from localpay.sim.demo import try_card  # noqa: PLC0415

    with opened(ctx) as store:
        card = try_card(store, master, city)
        shop = None if card is None else bootstrap.open_directory(store).shop(city, card.merchant)
    if card is None or not card_port:
        return
    pin = f", PIN {card.pin}" + (" (locked: reset it at the console)" if card.pin_locked else "")
    name = f" {shop.name}" if shop is not None else ""
    out.print(
        f"a demo card (card-only wallet {card.wallet}): {card.number}, expiry {card.expiry}"
        f"{pin if card.pin else ''}; terminal {card.terminal} of shop {card.merchant}{name}."
        f" A purchase over TCP to the card host on {host}:{card_port}:\n"
        f"  uv run localpay terminal send --host {host} --port {card_port}"
        f" --terminal {card.terminal} --card {card.number} --amount 5000"
        + (f" --pin {card.pin}" if card.pin else ""),
        highlight=False,
        soft_wrap=True,
    )


def _print_witnesses(ctx: typer.Context, city: str, base: str, master: MasterKey) -> None:
    """How to run the demo city's witnesses, each in its own terminal (docs/witnesses.md).
    A witness's key is its own, not the server's: the demo hands each out of the key
    folder to a plain file of its own (`witnesses/` beside the store), as --key reads it."""
    from localpay.adapters.keystore import KeyStore  # noqa: PLC0415
    from localpay.services.cities.verify import chain_identity  # noqa: PLC0415
    from localpay.sim.demo import DEMO_WITNESSES  # noqa: PLC0415

    settings: Settings = ctx.obj
    keys = KeyStore(bootstrap.keys_root(settings.db, settings.keys), master)
    held = beside_store(settings) / "witnesses" / city
    found = []
    for key_name, name in DEMO_WITNESSES:
        own = held / f"{key_name}.key"
        if key_name in keys.names(city) or own.exists():
            keys.hand_over(city, key_name, own)
            found.append((name, own))
    with opened(ctx) as opened_store:
        chain = chain_identity(opened_store, city)
    if not found or chain is None:
        return
    # A real witness learns these from the city, not from the operator's server.
    pins = f" --genesis {chain.genesis_hash} --operator-key {chain.operator_key}"
    # Each witness's own store, beside the server's SQLite file (never in it).
    beside = beside_store(settings)
    out.print(f"witnesses of {city} (quorum 2), each in its own terminal:")
    for n, (name, key) in enumerate(found):
        store = beside / f"witness-{name.split('.')[0]}.db"
        out.print(
            f"  uv run localpay witness --city {city} --follow {base} --key {key}"
            f" --db sqlite:///{store} --listen 127.0.0.1:{9101 + n}{pins}",
            highlight=False,
            soft_wrap=True,
        )


# -- server ----------------------------------------------------------------------------------------


@commands.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    ip_rate: Annotated[float, typer.Option(help="Requests/s allowed per client address")] = 2000,
    staff_rate: Annotated[
        float, typer.Option(help="Requests/s per city staff or operator credential")
    ] = 500,
    bank: Annotated[
        str | None,
        typer.Option(help="The bank's URL for sales (e.g. the simulated bank); else LOCALPAY_BANK"),
    ] = None,
    card_port: CardPort = CARD_PORT,
) -> None:
    """Run the HTTP API with every city's sequencer in this process.

    /metrics answers operator administrators, and a scraper sending the bearer token in
    LOCALPAY_METRICS_TOKEN (the environment, not an option `ps` would show)."""
    import uvicorn  # noqa: PLC0415

    from localpay.entrypoints.api import telemetry  # noqa: PLC0415
    from localpay.entrypoints.api.middleware.ratelimit import Limits  # noqa: PLC0415
    from localpay.entrypoints.site import create_site  # noqa: PLC0415

    settings: Settings = ctx.obj
    metrics_token = _metrics_token()
    try:
        container = bootstrap.Container(
            settings.db, settings.keys, master_file=settings.master_key, jobs=True
        )
        container.bank_url = bank or container.bank_url
        container.start()
    except (StoreError, LeaseHeld, MissingKey) as exc:
        fail(str(exc))
    telemetry.configure_logging(log_level)
    if card_port:  # the ISO 8583 card host, in a thread beside uvicorn (docs/cardhost.md)
        start_card_host(container, host, card_port)
    err.print(
        f"localpay serving {len(container.cities())} cities on http://{host}:{port} "
        f"(API docs http://{host}:{port}/docs)"
    )
    limits = Limits(
        per_ip_rate=ip_rate,
        per_ip_burst=2 * ip_rate,
        staff_rate=staff_rate,
        staff_burst=4 * staff_rate,
    )
    uvicorn.run(
        create_site(container, limits, metrics_token),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


#: A bearer token (RFC 6750's b64token); a shorter one could be guessed by anyone who
#: reaches the port.
METRICS_TOKEN_MIN = 32
METRICS_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]+")


def _metrics_token() -> str | None:
    token = os.environ.get("LOCALPAY_METRICS_TOKEN", "")
    if not token:
        return None
    if len(token) < METRICS_TOKEN_MIN or not METRICS_TOKEN.fullmatch(token):
        fail(
            f"LOCALPAY_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN} letters, digits or "
            "._~+/=- (e.g. `openssl rand -hex 32`)"
        )
    return token
