"""One exception root (domain/errors.py), mapped once to problems and once to CLI lines.

Every exception class localpay defines derives from LocalpayError and one of its four
kinds, but for the few that are not errors of localpay's own (the API's problem carrier,
the client's view of a server's problem) and private ones (`_Name`: control flow that
never leaves its module).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import orjson
import pytest

import localpay
from localpay.domain.errors import Conflict, LocalpayError, NotFound, Refused, Unavailable
from localpay.entrypoints.api.problems import error_problem
from localpay.entrypoints.cli.app import _Root

#: Exceptions that are not errors of localpay's own, each with why.
NOT_IN_THE_TREE = {
    "localpay.entrypoints.api.problems.ApiProblem",  # carries an already-mapped problem
    "localpay.client.ApiError",  # a server's problem seen by the Python client
    "localpay.entrypoints.web.errors.PageError",  # carries an already-chosen error page
    "localpay.entrypoints.web.errors.SignInNeeded",  # a redirect to the sign-in page
}
KINDS = (NotFound, Conflict, Refused, Unavailable)


def product_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(localpay.__path__, "localpay."):
        if info.name.startswith(("localpay.testing", "localpay.sim")) or info.name.endswith(
            "__main__"
        ):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def test_every_product_exception_is_a_localpay_error_of_one_kind() -> None:
    outside = []
    for cls in product_exceptions():
        name = f"{cls.__module__}.{cls.__qualname__}"
        private = cls.__name__.startswith("_")
        if private or name in NOT_IN_THE_TREE or cls in KINDS or cls is LocalpayError:
            continue
        if not issubclass(cls, LocalpayError):
            outside.append(name)
    assert outside == []


def test_city_exists_is_one_class() -> None:
    from localpay.services.cities import officials  # noqa: PLC0415
    from localpay.services.portability import importer  # noqa: PLC0415

    assert importer.CityExists is officials.CityExists
    assert issubclass(officials.CityExists, Conflict)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound("no block 9"), 404, "not_found"),
        (Conflict("already there"), 409, "conflict"),
        (Refused("bad archive"), 422, "refused"),
        (Unavailable("store down"), 503, "unavailable"),
    ],
)
def test_the_api_maps_each_kind_once(error: LocalpayError, status: int, code: str) -> None:
    response = error_problem(error)
    body = orjson.loads(bytes(response.body))
    assert (response.status_code, body["code"], body["detail"]) == (status, code, str(error))
    assert response.media_type == "application/problem+json"
    assert ("retry-after" in response.headers) == isinstance(error, Unavailable)


def test_an_error_with_a_known_api_code_keeps_it() -> None:
    class Decided(Conflict):
        code = "proposal_decided"

    body = orjson.loads(bytes(error_problem(Decided("rejected")).body))
    assert body["code"] == "proposal_decided"


def test_the_cli_maps_any_localpay_error_to_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    app = _Root(add_completion=False)

    @app.command()
    def clash() -> None:
        raise Conflict("city 'gimpo' already exists in this store")

    @app.command()
    def other() -> None:
        pass

    with pytest.raises(SystemExit) as exited:
        app(["clash"], prog_name="localpay")
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: city 'gimpo' already exists in this store"
    assert "Traceback" not in err


def test_the_cli_lets_other_exceptions_through() -> None:
    app = _Root(add_completion=False)

    @app.command()
    def boom() -> None:
        raise KeyError("a bug, not a refusal")

    @app.command()
    def other() -> None:
        pass

    with pytest.raises(KeyError):
        app(["boom"], prog_name="localpay", standalone_mode=False)
