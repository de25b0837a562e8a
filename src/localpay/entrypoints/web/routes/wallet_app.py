"""The wallet as an installable app: its manifest, its service worker and its offline page.

The worker is served from the wallet's own path (/c/{city}/wallet/sw.js), so its scope is
the wallet without a Service-Worker-Allowed header. It caches the shell only (styles,
scripts, icons, the offline page) under a cache name versioned by the shell's bytes, and
never a balance: pages and /v1 come from the network, and with no network a page is the
offline page, which shows no amount.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpay.entrypoints.web.context import language, say
from localpay.entrypoints.web.deps import city_of
from localpay.entrypoints.web.render import page

router = APIRouter()

STATIC: Final = Path(__file__).resolve().parents[1] / "static"
WORKER: Final = STATIC / "js" / "wallet" / "sw.js"
#: What the wallet's pages load besides their own scripts and icons (base.html).
SHELL_FILES: Final = (
    "vendor/pico/pico.min.css",
    "css/localpay.css",
    "css/wallet.css",
    "js/localpay.js",
    "vendor/htmx/htmx.min.js",
    "vendor/htmx-ext-sse/sse.min.js",
    "vendor/noble-ed25519/index.js",
)
ICONS: Final = (
    ("img/wallet-icon.svg", "any", "image/svg+xml"),
    ("img/wallet-icon-192.png", "192x192", "image/png"),
    ("img/wallet-icon-512.png", "512x512", "image/png"),
)
THEME: Final = "#0b4fa8"


def shell_files() -> list[str]:
    """The shell as static paths: the fixed files, every wallet script but the worker, icons."""
    scripts = sorted(
        f"js/wallet/{p.name}" for p in (STATIC / "js" / "wallet").glob("*.js") if p != WORKER
    )
    found = [*SHELL_FILES, *scripts, *(icon for icon, _, _ in ICONS)]
    return [name for name in found if (STATIC / name).is_file()]


@cache
def shell_version(files: tuple[str, ...]) -> str:
    """A new cache name whenever a byte of the shell (or the worker) changes."""
    digest = hashlib.sha256(WORKER.read_bytes())
    for name in files:
        digest.update(name.encode() + b"\0" + (STATIC / name).read_bytes())
    return digest.hexdigest()[:16]


@router.get("/c/{city}/wallet/manifest.webmanifest")
def manifest(request: Request, city: str) -> Response:
    city_of(request, city)
    scope = f"/c/{city}/wallet/"
    body = {
        "name": say(request, "Local currency wallet"),
        "short_name": say(request, "Wallet"),
        "lang": language(request),
        "start_url": scope,
        "scope": scope,
        "id": scope,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {"src": f"/static/{src}", "sizes": sizes, "type": kind, "purpose": "any"}
            for src, sizes, kind in ICONS
        ],
    }
    text = json.dumps(body, ensure_ascii=False)
    return Response(text, media_type="application/manifest+json")


@router.get("/c/{city}/wallet/sw.js")
def service_worker(request: Request, city: str) -> Response:
    city_of(request, city)
    files = tuple(shell_files())
    head = (
        f"const VERSION = {json.dumps(shell_version(files))};\n"
        f"const CITY = {json.dumps(city)};\n"
        f"const SHELL = {json.dumps(['/static/' + f for f in files])};\n"
    )
    # The browser checks the worker for updates itself; it must never take an old one
    # from the HTTP cache.
    headers = {"Cache-Control": "no-cache"}
    return Response(head + WORKER.read_text(), media_type="text/javascript", headers=headers)


@router.get("/c/{city}/wallet/offline")
def offline(request: Request, city: str) -> Response:
    context = {"city": city_of(request, city), "app": f"/c/{city}/wallet/"}
    return page(request, "wallet/offline.html", context)
