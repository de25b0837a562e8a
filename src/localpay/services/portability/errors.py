"""What export and import refuse, each in one line that says why and where."""

from __future__ import annotations

from localpay.domain.errors import Refused


class ExportError(Refused, RuntimeError):
    """The export cannot be made; the message says why in one line."""


class ImportRefused(Refused, RuntimeError):
    """The archive is unreadable, altered or does not fit this store; says which and where."""


class PinRefused(ImportRefused):
    """The archive holds another chain than the pinned genesis or operator key."""
