"""Adds the web pages to the HTTP app: routes under `/`, vendored assets under `/static`."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from localpay.entrypoints.web.errors import install_errors
from localpay.entrypoints.web.routes import (
    console,
    console_approvals,
    console_batches,
    console_cards,
    console_merchants,
    console_programs,
    console_settlement,
    console_waiting,
    counter,
    counter_charge,
    counter_code,
    counter_payouts,
    counter_qr,
    counter_webhooks,
    explorer,
    explorer_reserves,
    home,
    merchant_apply,
    settlement_reports,
    wallet,
    wallet_buy,
    wallet_checkout,
    wallet_code,
    wallet_credits,
    wallet_gift,
    wallet_history,
    wallet_notices,
    wallet_pay,
    wallet_queue,
    wallet_refund_account,
    wallet_scan,
)

STATIC: Final = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """The pages of every capability; each later capability adds its router here."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (
        home.router,
        explorer.router,
        counter.router,
        wallet.router,
        wallet_pay.router,
        wallet_history.router,
        wallet_gift.router,
        console.router,
        console_programs.router,
        console_approvals.router,
        wallet_queue.router,
        console_waiting.router,
        wallet_notices.router,
        console_batches.router,
        merchant_apply.router,
        console_merchants.router,
        wallet_credits.router,
        wallet_buy.router,
        wallet_scan.router,
        counter_charge.router,
        wallet_code.router,
        counter_code.router,
        counter_webhooks.router,
        counter_qr.router,
        wallet_checkout.router,
        console_cards.router,
        counter_payouts.router,
        console_settlement.router,
        explorer_reserves.router,
        settlement_reports.router,
        wallet_refund_account.router,
    ):
        app.include_router(router, include_in_schema=False)
    install_errors(app)
