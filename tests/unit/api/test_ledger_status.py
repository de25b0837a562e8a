"""Every result code the ledger can answer has its HTTP status: a code without one would
turn a refusal into a 500 (KeyError) wherever the API renders it."""

from __future__ import annotations

from localpay.domain.codes import Code
from localpay.entrypoints.api.problems import LEDGER_STATUS, ledger_problem


def test_every_code_but_ok_has_an_http_status() -> None:
    assert set(LEDGER_STATUS) == set(Code) - {Code.OK}


def test_the_rotation_codes_render_as_problems() -> None:
    for code, status in (
        (Code.OPERATOR_KEY_UNAVAILABLE, 409),
        (Code.OPERATOR_SIGNATURE_MISSING, 403),
        (Code.OPERATOR_KEY_MISMATCH, 409),
        (Code.INVALID_OPERATOR_KEY, 422),
        (Code.REFUND_WINDOW_CLOSED, 422),
    ):
        assert ledger_problem(code).status_code == status
