"""The shop directory on both stores: the chain's facts with the directory's names,
searched the way a citizen looks for a shop; bad names refused and nothing changed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from localpay.bootstrap import open_directory
from localpay.services.directory.service import BadName
from localpay.sim.demo import demo_directory
from localpay.testing.builders import DemoChain

CITY = "gimpo"


@pytest.fixture
def chain(demo_chain: DemoChain) -> DemoChain:
    return demo_chain


def test_shops_carry_chain_facts_and_directory_names(chain: DemoChain) -> None:
    directory = open_directory(chain.store)  # type: ignore[arg-type]
    unnamed = directory.shops(CITY)
    assert unnamed and all(s.name == s.merchant for s in unnamed)  # listed by id until named
    assert demo_directory(directory, CITY, 1) == len(unnamed)
    shops = directory.shops(CITY)
    first = shops[0]
    assert first.name != first.merchant and first.area_name != first.area
    facts = chain.store.state_value(CITY, f"m:{first.merchant}")
    assert facts is not None and first.category.encode() in facts and first.area.encode() in facts
    assert directory.shop(CITY, first.merchant) == first
    assert directory.shop(CITY, "m-99999") is None
    assert directory.shop(CITY, "../etc") is None


def test_search_by_name_area_category_and_id(chain: DemoChain) -> None:
    directory = open_directory(chain.store)  # type: ignore[arg-type]
    demo_directory(directory, CITY, 1)
    shop = directory.shops(CITY)[0]
    word = shop.name.split()[-1]
    assert shop in directory.shops(CITY, query=word)
    assert shop in directory.shops(CITY, query=shop.name_en.upper().replace(" ", ""))
    assert directory.shops(CITY, query=shop.merchant) == [shop]
    in_area = directory.shops(CITY, area=shop.area)
    assert in_area and all(s.area == shop.area for s in in_area)
    of_kind = directory.shops(CITY, category=shop.category)
    assert of_kind and all(s.category == shop.category for s in of_kind)
    assert directory.shops(CITY, query="없는가게이름") == []


def test_bad_names_are_refused_and_change_nothing(chain: DemoChain) -> None:
    directory = open_directory(chain.store)  # type: ignore[arg-type]
    shop = directory.shops(CITY)[0]
    for bad in ("", " ", "x" * 61, "tab\there"):
        with pytest.raises(BadName):
            directory.name_shop(CITY, shop.merchant, bad, "ok", 1)
    with pytest.raises(BadName):
        directory.name_shop(CITY, "m-99999", "없는 가게", "None", 1)
    assert directory.shop(CITY, shop.merchant) == shop
    directory.name_shop(CITY, shop.merchant, "  새 이름 ", "New Name", 2)
    renamed = directory.shop(CITY, shop.merchant)
    assert renamed is not None and renamed.name == "새 이름"


CLI = [sys.executable, "-m", "localpay.entrypoints.cli"]


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--db", url, *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_an_operator_names_shops_and_areas_from_the_cli(chain: DemoChain) -> None:
    directory = open_directory(chain.store)  # type: ignore[arg-type]
    shop = directory.shops(CITY)[0]
    named = _cli(
        chain.url, "shop", "name", "--city", CITY, shop.merchant, "새 빵집", "--en", "New Bakery"
    )
    assert named.returncode == 0, named.stderr
    area = _cli(chain.url, "area", "name", "--city", CITY, shop.area, "새 동네", "--en", "New Town")
    assert area.returncode == 0, area.stderr
    listed = _cli(chain.url, "shop", "list", "--city", CITY, "--query", "새빵집")
    assert listed.returncode == 0 and "새 빵집" in listed.stdout and "새 동네" in listed.stdout
    bad = _cli(chain.url, "shop", "name", "--city", CITY, "m-99999", "없는 가게", "--en", "None")
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1 and "m-99999" in bad.stderr
    found = directory.shop(CITY, shop.merchant)
    assert found is not None and (found.name, found.area_name) == ("새 빵집", "새 동네")
