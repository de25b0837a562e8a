"""Property-based requests (schemathesis) to the webhook operations as the shop's owner,
so generated requests get past the access check into the service: never a 5xx, every
answer as documented in /openapi.json. (tests/e2e/api/test_schemathesis.py covers every
operation as an auditor, who only ever gets the 404.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from localpay.testing.servers import World, live_server, seed

pytestmark = pytest.mark.slow


def test_webhook_operations_as_the_owner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    seed(url, tmp_path / "keys")
    with live_server(url, tmp_path / "keys") as base:
        token = World(base, tmp_path / "keys").login("gimpo", "owner")
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        schema.config.update(headers={"Authorization": f"Bearer {token}"})
        failures = []
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]
            if "/webhooks" not in operation.path:
                continue

            @settings(
                max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
                database=None,
            )  # fmt: skip
            @given(case=operation.as_strategy())
            def exercise(case: Any) -> None:
                if case.method.upper() == "POST":
                    case.headers = {**(case.headers or {}), "Idempotency-Key": os.urandom(16).hex()}
                # The owner's own shop: the requests reach the service, not only the 404.
                case.path_parameters |= {"city": "gimpo", "merchant": "m-00000"}
                case.call_and_validate(excluded_checks=[checks.positive_data_acceptance])

            try:
                exercise()
            except Exception as exc:  # every operation's failure, reported together
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
        assert not failures, "\n\n".join(failures)
