"""The limits hold together (domain/limits.py): each relation, and that one broken is named."""

from __future__ import annotations

import pytest

from localpay.domain import limits


@pytest.mark.parametrize(("words", "holds"), limits.relations())
def test_relation_holds(words: str, holds: bool) -> None:
    assert holds, words


def test_a_broken_relation_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "BODY_BYTES_MAX", limits.COMMAND_BYTES_MAX - 1)
    with pytest.raises(AssertionError, match="a signed command fits in a request body"):
        limits.check_relations()


def test_every_limit_is_named_with_max_last() -> None:
    public = [n for n in vars(limits) if n.isupper() and not n.startswith("_")]
    assert public and all(n.endswith("_MAX") for n in public), public
