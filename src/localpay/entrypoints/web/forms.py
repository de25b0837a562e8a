"""Reading forms: typed fields with plain-words errors, never a 500 for bad input."""

from __future__ import annotations

import re
from typing import Final

from starlette.datastructures import FormData

from localpay.entrypoints.web.errors import PageError
from localpay.entrypoints.web.i18n import N_

#: An idempotency key a page rendered into its form (a UUID4 or 32 hex).
KEY: Final = re.compile(r"[0-9a-fA-F-]{32,36}")


def text(form: FormData, name: str, *, max_length: int = 256) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if len(value) > max_length or any(ord(ch) < 0x20 for ch in value):
        raise PageError(422, N_("Some of what you entered is too long or not allowed."))
    return value


def won(form: FormData, name: str) -> int | None:
    """A whole-won amount typed by a person (`12,000` or `12000`); None when not one."""
    raw = text(form, name, max_length=20).replace(",", "").replace("원", "").strip()
    if not raw.isdigit() or raw.startswith("0"):
        return None
    amount = int(raw)
    return amount if 0 < amount <= 10_000_000_000 else None


def idempotency_key(form: FormData) -> str:
    key = text(form, "idempotency_key", max_length=64)
    if not KEY.fullmatch(key):
        raise PageError(422, N_("This form has expired. Go back, reload the page and try again."))
    return key
