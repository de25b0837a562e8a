"""One root for every error localpay raises on purpose, in four kinds.

A caller branches on the kind, a person reads `str(error)` (one plain sentence, never a
secret). The API maps the kinds to problems once (entrypoints/api/problems.py), the CLI
to one-line messages once (entrypoints/cli/app.py). Ledger outcomes are not errors: a
refused command is a result code on the chain (domain/codes.py).

NotFound is a LookupError and Unavailable a RuntimeError, as Python's own errors of those
kinds are. A class that replaced a ValueError or RuntimeError also names that built-in
beside its kind, so code written against it keeps catching exactly what it caught.
"""

from __future__ import annotations


class LocalpayError(Exception):
    """Something localpay refuses or cannot do, said in one sentence."""

    #: The stable problem code (RFC 9457 `code`); a subclass or an instance names its own.
    code: str = "error"


class NotFound(LocalpayError, LookupError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    code = "not_found"


class Conflict(LocalpayError):
    """The request contradicts what is already recorded (an id, a name, a decision)."""

    code = "conflict"


class Refused(LocalpayError):
    """The request is malformed or not allowed; sending it again will not help."""

    code = "refused"


class Unavailable(LocalpayError, RuntimeError):
    """Localpay cannot do it now (a store, a sequencer, a key); retrying later may help."""

    code = "unavailable"
