"""The composition root: settings -> stores, keys, sequencers, services."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import argon2
import nacl.signing

from localpay.adapters.bank.http import HttpBank, bank_secret
from localpay.adapters.clock import now_ms
from localpay.adapters.documents.stickers import WeasyStickerPrinter
from localpay.adapters.feed_client import FeedClient, PeerClient
from localpay.adapters.keystore import KeyStore
from localpay.adapters.runtime import settle_heap
from localpay.adapters.secrets import MasterKey, Sealer, master_key_from_environment
from localpay.adapters.sql.approvals import SqlProposalRepository
from localpay.adapters.sql.cards import SqlCardRepository
from localpay.adapters.sql.checkout import SqlCheckoutRepository
from localpay.adapters.sql.directory import SqlDirectoryRepository
from localpay.adapters.sql.history import SqlHistoryIndex
from localpay.adapters.sql.idempotency import SqlIdempotencyRepository
from localpay.adapters.sql.identity import SqlIdentityRepository
from localpay.adapters.sql.notices import SqlJobRuns, SqlNotices
from localpay.adapters.sql.programs import SqlProgramTables
from localpay.adapters.sql.qr_requests import SqlQrRequests
from localpay.adapters.sql.registry import SqlRegistryRepository
from localpay.adapters.sql.runner import SqlStore
from localpay.adapters.sql.sales import SqlSaleRepository
from localpay.adapters.sql.settlement import SqlSettlement
from localpay.adapters.sql.sqlite import SQLiteStore
from localpay.adapters.sql.waiting import SqlWaitingRepository
from localpay.adapters.sql.webhooks import SqlWebhooks
from localpay.adapters.sql.witness import SqlWitnessRecords
from localpay.adapters.webhook_sender import HttpSender
from localpay.ledger.ports import StoreError
from localpay.services.approvals.service import Proposals
from localpay.services.cities.ledgers import Ledgers
from localpay.services.cities.supervision import Backoff, Supervisor, reason_of
from localpay.services.counter.live import LivePayments
from localpay.services.directory.service import Directory
from localpay.services.explorer.service import Explorer
from localpay.services.history.service import HistoryIndexer
from localpay.services.identity.service import Identity, LoginLimits
from localpay.services.jobs.notices import LogChannel
from localpay.services.jobs.scheduler import Scheduler
from localpay.services.jobs.service import Jobs
from localpay.services.payments.card.service import CardService
from localpay.services.payments.checkout.expiry import ExpiryRunner
from localpay.services.payments.checkout.service import Checkout
from localpay.services.payments.qr.requests import QrRequests, ledger_lookup
from localpay.services.payments.qr.static import MerchantQrs
from localpay.services.programs.batches import Batches
from localpay.services.programs.evidence import EligibilityData
from localpay.services.programs.ports import ProgramRepository
from localpay.services.programs.runner import BatchRunner
from localpay.services.registry.service import Registry
from localpay.services.sales.live import LiveBudgets
from localpay.services.sales.service import Sales
from localpay.services.settlement.ports import (
    BankDown,
    Party,
    PayoutBank,
    SettlementRepository,
)
from localpay.services.settlement.runner import SettlementRunner
from localpay.services.settlement.service import SettlementService
from localpay.services.transparency.service import Transparency
from localpay.services.waiting.budget import ledger_budget
from localpay.services.waiting.service import WaitingRoom
from localpay.services.webhooks.service import Webhooks
from localpay.services.webhooks.worker import Worker as WebhookWorker
from localpay.services.witness.service import Witness
from localpay.services.witness.settings import WitnessSettings

DEFAULT_DB = "sqlite:///data/localpay.db"


def db_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("LOCALPAY_DB") or DEFAULT_DB


def open_store(url: str) -> SqlStore:
    """sqlite:///relative/file.db, sqlite:////absolute/file.db or postgresql://..."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise StoreError("sqlite URL needs a file path: sqlite:///data/localpay.db")
        return SQLiteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        from localpay.adapters.sql.postgres import PostgresStore  # noqa: PLC0415 (optional driver)

        return PostgresStore(url)
    raise StoreError(f"unknown store URL {url!r}: use sqlite:///path or postgresql://...")


def new_witness(
    store: SqlStore,
    key: nacl.signing.SigningKey,
    settings: WitnessSettings,
    clock: Callable[[], int] = now_ms,
) -> Witness:
    """A witness over its own store, following settings.follow with its own clock."""
    return Witness(
        store,
        key,
        settings,
        records=SqlWitnessRecords(store),
        feed=FeedClient(settings.follow, settings.city, settings.timeout_s),
        peers=PeerClient(settings.timeout_s),
        clock=clock,
        request_clock=now_ms,
    )


def open_sales(
    ledgers: Ledgers,
    store: SqlStore,
    keys: KeyStore,
    bank_url: str | None,
    clock: Callable[[], int],
) -> Sales:
    """Sales through the bank at `bank_url` (none: orders are refused as unavailable)."""
    secret = bank_secret(keys)
    bank = HttpBank(bank_url, secret) if bank_url else None
    return Sales(ledgers, store, SqlSaleRepository(store), bank, secret, clock)


def keys_root(url: str, explicit: str | None = None) -> Path:
    """Where key files live: --keys / LOCALPAY_KEYS, else beside a SQLite file, else ./data."""
    chosen = explicit or os.environ.get("LOCALPAY_KEYS")
    if chosen:
        return Path(chosen)
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent / "keys"
    host = urlparse(url).hostname or "local"
    return Path("data") / f"keys-{host}"


def data_folder(url: str) -> Path:
    """The folder of a SQLite store's file, else ./data: no master key may live in it."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent
    return Path("data")


def master_key(url: str, keys: str | None = None, file: str | None = None) -> MasterKey:
    """The master key (--master-key file, LOCALPAY_MASTER_KEY_FILE, LOCALPAY_MASTER_KEY or
    the default file), refused if its file lies in the data or key folder."""
    return master_key_from_environment(file, forbidden=(keys_root(url, keys), data_folder(url)))


def open_keys(url: str, explicit: str | None = None, master_file: str | None = None) -> KeyStore:
    """The key folder under the master key, refused (MasterKeyMismatch) if another master
    key sealed it: a new key must not be sealed under a key the others are not under."""
    keys = KeyStore(keys_root(url, explicit), master_key(url, explicit, master_file))
    keys.check()
    return keys


def open_directory(store: SqlStore) -> Directory:
    return Directory(store, SqlDirectoryRepository(store))


def open_jobs(store: SqlStore, ledgers: Ledgers) -> tuple[Jobs, SqlJobRuns]:
    """The scheduled jobs over the store's notice outbox (the demo's log channel), and
    the record of the periods they have done."""
    return Jobs(ledgers, SqlNotices(store), LogChannel()), SqlJobRuns(store)


def open_identity(
    store: SqlStore,
    clock: Callable[[], int],
    hasher: argon2.PasswordHasher | None = None,
    limits: LoginLimits | None = None,
    master: Sealer | None = None,
) -> Identity:
    """The identity service over the store's identity tables, TOTP sealed under `master`
    (else the master key of the environment)."""
    records = SqlIdentityRepository(store, master or master_key_from_environment())
    records.check_totp()  # the TOTP secrets are under this master key, or refused
    return Identity(records, store, clock, hasher, limits)


def open_programs(
    store: SqlStore, ledgers: Ledgers, proposals: Proposals, master: Sealer
) -> tuple[Batches, EligibilityData]:
    repo = ProgramRepository(SqlProgramTables(store))
    return (
        Batches(repo, ledgers, proposals, now_ms),
        EligibilityData(repo, master, ledgers, now_ms),
    )


def open_settlement(
    ledgers: Ledgers,
    repo: SettlementRepository,
    bank_url: str | None,
    closers: list[Callable[[], None]] | None = None,
) -> SettlementService:
    """Settlement through mock-bank at `bank_url` (the demo's and tests' ISO 20022 bank);
    with none, every call that needs the bank raises BankDown (503)."""
    from localpay.adapters.bank.mockbank import MockBank, MockBankClient, trust_party  # noqa: PLC0415

    client = MockBankClient(bank_url) if bank_url else None
    if client is not None and closers is not None:
        closers.append(client.close)

    def bank(city: str) -> PayoutBank:
        if client is None:
            raise BankDown("no bank for payouts is configured (LOCALPAY_PAYOUT_BANK)")
        return MockBank(client, city)

    def trust(city: str) -> Party:
        genesis = ledgers.sequencer(city).state.genesis
        return trust_party(city, genesis.name if genesis else city)

    return SettlementService(ledgers, repo, bank, trust)


class Container:
    """Everything a server process runs: the store, the keys, the city sequencers."""

    def __init__(
        self,
        url: str,
        keys: str | None = None,
        hasher: argon2.PasswordHasher | None = None,
        backoff: Backoff | None = None,
        master_file: str | None = None,
        jobs: bool = False,
    ) -> None:
        """`jobs`: run the scheduled jobs (expiry, lapse, cashback, notices) in this
        process, as `localpay serve` does; tests of other things leave them off."""
        from localpay.adapters.clock import now_ms  # noqa: PLC0415

        self.url = url
        self.clock = now_ms
        self._closers: list[Callable[[], None]] = []
        # Before the store: a missing or wrong master key fails the start, naming it.
        self.master = master_key(url, keys, master_file)
        self.keys = KeyStore(keys_root(url, keys), self.master)
        self.keys.check()
        self.store = open_store(url)
        records = SqlIdentityRepository(self.store, self.master)
        try:
            records.check_totp()
            records.seal_plain_totp()
        except BaseException:
            self.store.close()
            raise
        self.ledgers = Ledgers(self.store, self.keys, now_ms)
        self.supervisor = Supervisor(self.ledgers, backoff)
        self.identity = Identity(records, self.store, now_ms, hasher)
        self.proposals = Proposals(SqlProposalRepository(self.store), self.ledgers, now_ms)
        self.idempotency = SqlIdempotencyRepository(self.store)
        self.history = SqlHistoryIndex(self.store)
        self.directory = Directory(self.store, SqlDirectoryRepository(self.store))
        # The shops' static QR codes, signed by each city's "qr" key (services/payments/qr).
        self.merchant_qrs = MerchantQrs(
            self.store, self.directory, self.keys, WeasyStickerPrinter()
        )
        # Dynamic QR codes: the counters' and POSes' one-time payment requests.
        self.qr_requests = QrRequests(
            SqlQrRequests(self.store), ledger_lookup(self.store), self.merchant_qrs.payload, now_ms
        )
        # The merchant registry: applications, approval, suspension (services/registry).
        self.registry = Registry(
            SqlRegistryRepository(self.store), self.ledgers, self.proposals, self.identity,
            self.directory, self.master, now_ms,
        )  # fmt: skip
        # Policy money: eligibility decisions and disbursement batches (services/programs).
        self.batches, self.eligibility = open_programs(
            self.store, self.ledgers, self.proposals, self.master
        )
        self.run_jobs = jobs
        self.notices = SqlNotices(self.store)  # the wallets read their notices even without jobs
        # Sale openings' waiting rooms (services/waiting), the queue kept in the store.
        waiting = SqlWaitingRepository(self.store, self.master)
        self.waiting = WaitingRoom(waiting, now_ms, ledger_budget(self.ledgers))
        self._cities = set(self.store.cities())
        # Online checkout intents (services/payments/checkout), approved in the wallet.
        intents = SqlCheckoutRepository(self.store)
        self.checkout = Checkout(self.ledgers, self.store, intents, now_ms)
        # Prepaid cards and terminals: the card host's authority (services/payments/card).
        self.cards = CardService(
            SqlCardRepository(self.store), self.ledgers, self.master, now_ms, hasher
        )
        # Merchants' webhook endpoints, cursors and delivery log (services/webhooks).
        sender = HttpSender()
        self._closers.append(sender.close)
        self.webhooks = Webhooks(SqlWebhooks(self.store), self.store, self.master, sender, now_ms)
        # Settlement's records off the chain, accounts and files sealed (services/settlement).
        self.settlement_repo = SqlSettlement(self.store, self.master)
        # Payouts through the trust account's bank (`localpay up` runs mock-bank and sets
        # LOCALPAY_PAYOUT_BANK); none: payouts are refused as unavailable.
        self.payout_bank_url: str | None = os.environ.get("LOCALPAY_PAYOUT_BANK") or None
        self.settlement = open_settlement(
            self.ledgers, self.settlement_repo, self.payout_bank_url, self._closers
        )
        # The bank sales go through (`localpay serve --bank URL`, or LOCALPAY_BANK).
        self.bank_url: str | None = os.environ.get("LOCALPAY_BANK") or None

    def cities(self) -> list[str]:
        """Cities of this installation, read afresh from the store."""
        self._cities = set(self.store.cities())
        return sorted(self._cities)

    def has_city(self, city: str) -> bool:
        # Cached: the hot path (a payment) must not query the store for this.
        return city in self._cities or city in self.cities()

    def start(self) -> None:
        """Catch the history index up, then start every city's sequencer, supervised."""
        self.transparency = Transparency(self.store, self.ledgers).start(self.cities())
        self._closers.append(self.transparency.close)
        history = HistoryIndexer(self.store, self.history).start(self.cities())
        self.ledgers.observers.append(history)
        self._closers.append(history.close)
        # Counter screens watch their merchant's payments live (services/counter/live.py).
        self.live_payments = LivePayments()
        self.ledgers.observers.append(self.live_payments)
        # The public explorer's figures, caught up before any sequencer runs (in memory).
        self.explorer = Explorer(self.store).start(self.cities())
        self.ledgers.observers.append(self.explorer)
        # Sales: orders, the bank's notices, the live remaining budgets (services/sales).
        self.sales = open_sales(self.ledgers, self.store, self.keys, self.bank_url, now_ms)
        self.sales.admission = self.waiting.admitted  # sale openings' waiting rooms
        self.sale_budgets = LiveBudgets(self.ledgers)
        self.ledgers.observers.append(self.sale_budgets)
        # Webhooks delivered from the committed chain, woken by each block (serve only).
        if self.run_jobs:
            self.webhook_worker = WebhookWorker(self.webhooks.deliverer).start()
            self.ledgers.observers.append(self.webhook_worker)
            self._closers.insert(0, self.webhook_worker.close)  # before the sender closes
        for city in self.cities():
            self.ledgers.sequencer(city)
        # Payouts: the bank's answers every minute, the daily batch after the cut-off.
        if self.run_jobs and self.payout_bank_url:
            runner = SettlementRunner(self.settlement, self.cities, self.clock).start()
            self._closers.insert(0, runner.close)
        # Approved disbursement batches are paid, and resumed after a restart.
        self.batch_runner = BatchRunner(self.batches, self.cities).start()
        self._closers.append(self.batch_runner.close)
        # Checkout intents not approved in time are marked expired (store only).
        self._closers.append(ExpiryRunner(self.checkout, self.clock).start().close)
        # Expiry at Korean midnight, lapsed orders, cashback, notices (services/jobs).
        self.jobs, runs = open_jobs(self.store, self.ledgers)
        if self.run_jobs:
            self.scheduler = Scheduler(self.jobs, runs, self.cities, self.clock).start()
            self._closers.append(self.scheduler.close)
        self.supervisor.start()
        settle_heap()

    def readiness(self) -> list[str]:
        problems = []
        try:
            cities = self.cities()
        except Exception as exc:  # any store failure means not ready
            return [f"store unreachable: {type(exc).__name__}"]
        down = self.supervisor.down()
        for city in cities:
            seq = self.ledgers.running_sequencer(city)
            if seq is not None and seq.running:
                continue
            # The supervisor's reason includes its failed restarts; until it has looked,
            # the sequencer's own failure says why.
            why = down.get(city) or (reason_of(seq.failure) if seq else "not started")
            problems.append(f"sequencer for {city} not running: {why}")
        return problems

    def reserve_status(self) -> dict[str, tuple[int, float]]:
        """city -> (shortfall in won, won per unit) of its last proof of reserves."""
        found = {}
        for city in self.cities():
            proofs = self.settlement_repo.proofs(city, limit=1)
            if proofs:
                found[city] = (proofs[0].shortfall, proofs[0].ratio)
        return found

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        self.supervisor.close()  # first: it must not restart what is being closed
        for closer in self._closers:
            closer()
        self.ledgers.close()
        self.store.close()
