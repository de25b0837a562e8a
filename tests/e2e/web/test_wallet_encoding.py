"""The browser's canonical encoding and signatures are docs/encoding.md's bytes, exactly.

The wallet's modules (static/js/wallet/canonical.js, keys.js) are imported into a page of
the live site and run by Chromium itself, on both Ed25519 paths: WebCrypto and the vendored
@noble/ed25519. The vectors are those pinned in tests/unit/domain/test_encoding.py.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page


def _pinned() -> Any:
    """The vectors of tests/unit/domain/test_encoding.py itself, so the two cannot drift."""
    path = Path(__file__).parents[2] / "unit" / "domain" / "test_encoding.py"
    spec = importlib.util.spec_from_file_location("pinned_encoding_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pinned = _pinned()

pytestmark = pytest.mark.slow

SEED_HEX = pinned.SEED.hex()

PAY_BODY = {
    "type": "pay",
    "id": "0123456789abcdef0123456789abcdef",
    "city": "gimpo",
    "wallet": "w-0000001",
    "merchant": "m-00042",
    "amount": 17000,
    "evidence": "",
}
OPEN_BODY = {
    "type": "open_wallet",
    "id": "00112233445566778899aabbccddeeff",
    "city": "gimpo",
    "wallet": "w-0000001",
    "keys": [pinned.PUBLIC],
    "custodial": False,
}
# Fields deliberately out of order: the encoder must sort at every level.
DEFINE_BODY = {
    "type": "define_program",
    "program": "youth",
    "policy": {
        "valid_until": "2026-12-31",
        "name": "청년기본소득",
        "transferable": False,
        "refundable": False,
        "revenue_cap": 3_000_000_000,
        "per_payment_cap": 0,
        "monthly_cap": 500_000,
        "holding_cap": 1_500_000,
        "denied_categories": ["department_store"],
        "daily_cap": 0,
        "areas": ["gurae", "tongjin"],
        "allowed_categories": [],
        "valid_days": 90,
    },
    "id": "fedcba9876543210fedcba9876543210",
    "city": "gimpo",
}
VECTORS = [
    pytest.param(PAY_BODY, pinned.PAY_BODY, pinned.PAY_SIG, pinned.PAY_ENVELOPE, id="pay"),
    pytest.param(OPEN_BODY, pinned.OPEN_BODY, pinned.OPEN_SIG, pinned.OPEN_ENVELOPE, id="open"),
    pytest.param(
        DEFINE_BODY, pinned.DEFINE_BODY, pinned.DEFINE_SIG, pinned.DEFINE_ENVELOPE, id="define"
    ),
]
BACKENDS = ["webcrypto", "noble"]

SIGN = """async ([backend, seedHex, body]) => {
  const keys = await import("/static/js/wallet/keys.js");
  const { canonical, canonicalBytes } = await import("/static/js/wallet/canonical.js");
  keys.useBackend(backend);
  const seed = keys.hexToBytes(seedHex);
  const envelope = await keys.signCommand(seed, body);
  return {
    backend: await keys.backendName(),
    body: Array.from(canonicalBytes(body)),
    text: canonical(body),
    key: await keys.publicKeyHex(seed),
    sig: envelope.sigs[0].sig,
    envelopeKey: envelope.sigs[0].key,
    envelope: Array.from(canonicalBytes(envelope)),
  };
}"""


@pytest.fixture
def on_site(page: Page) -> Page:
    page.goto("/")
    return page


def run(page: Page, script: str, arg: Any = None) -> Any:
    return page.evaluate(script, arg)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("body", "body_bytes", "sig", "envelope"), VECTORS)
def test_the_browser_makes_the_pinned_bytes_and_signatures(
    on_site: Page, backend: str, body: dict[str, Any], body_bytes: bytes, sig: str, envelope: bytes
) -> None:
    made = run(on_site, SIGN, [backend, SEED_HEX, body])
    assert made["backend"] == backend
    assert bytes(made["body"]) == body_bytes
    assert made["key"] == made["envelopeKey"] == pinned.PUBLIC
    assert made["sig"] == sig
    assert bytes(made["envelope"]) == envelope


def test_both_backends_are_really_there(on_site: Page) -> None:
    """WebCrypto Ed25519 exists in this Chromium (else the webcrypto path is untested)."""
    has = run(
        on_site,
        """async () => {
          try {
            await crypto.subtle.generateKey({name: "Ed25519"}, false, ["sign"]);
            return true;
          } catch { return false; }
        }""",
    )
    assert has is True
    auto = run(
        on_site,
        """async () => {
          const keys = await import("/static/js/wallet/keys.js");
          keys.useBackend("auto");
          return keys.backendName();
        }""",
    )
    assert auto == "webcrypto"


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        pytest.param(text, encoded, id=repr(text))
        for text, encoded in [
            ("김포", b'"\xea\xb9\x80\xed\x8f\xac"'),
            ("\n", b'"\\n"'),
            ("\t", b'"\\t"'),
            ("\r", b'"\\r"'),
            ("\b", b'"\\b"'),
            ("\f", b'"\\f"'),
            ("\x00", b'"\\u0000"'),
            ('"', b'"\\""'),
            ("\\", b'"\\\\"'),
            ("\x01", b'"\\u0001"'),
            ("\x1f", b'"\\u001f"'),
            ("\x7f", b'"\x7f"'),
            ("\u2028", b'"\xe2\x80\xa8"'),
            ("/", b'"/"'),
            ("😀", '"😀"'.encode()),
        ]
    ],
)
def test_string_escapes_are_the_pinned_ones(on_site: Page, text: str, encoded: bytes) -> None:
    got = run(
        on_site,
        """async (text) => {
          const { canonicalBytes } = await import("/static/js/wallet/canonical.js");
          return Array.from(canonicalBytes(text));
        }""",
        text,
    )
    assert bytes(got) == encoded


def test_keys_sort_by_utf8_bytes_not_utf16_units(on_site: Page) -> None:
    # By UTF-16 units the emoji (d83d de00) sorts before U+FF61; by UTF-8 bytes
    # (f0 9f 98 80 against ef bd a1) after it.
    got = run(
        on_site,
        """async () => {
          const { canonical } = await import("/static/js/wallet/canonical.js");
          return canonical({"😀": 1, "\\uff61": 2, "b": 3, "a": {"d": 4, "c": 5}});
        }""",
    )
    assert got == '{"a":{"c":5,"d":4},"b":3,"\uff61":2,"😀":1}'


# The values are made in the page by name: the pages' content security policy allows no
# eval, so the test cannot send JavaScript source to be evaluated.
REFUSE = """async (name) => {
  const { canonical } = await import("/static/js/wallet/canonical.js");
  const values = {
    float: {amount: 1.5},
    huge: {amount: 1e21},
    unsafe: {amount: 2 ** 53},
    nan: {amount: NaN},
    infinity: {amount: Infinity},
    minus_zero: {amount: -0},
    bigint: {amount: 10n},
    null: {wallet: null},
    undefined: {wallet: undefined},
    map: new Map([[1, 2]]),
    date: {when: new Date(0)},
    symbol: {[Symbol("k")]: 1},
    surrogate: {name: String.fromCharCode(0xd800)},
    hole: {keys: [1, , 2]},
    function: {f: () => 1},
  };
  try { return "encoded " + canonical(values[name]); }
  catch (e) { return e.name + ": " + e.message; }
}"""


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("float", "at $.amount: numbers must be integers"),
        ("huge", "at $.amount: integer beyond"),
        ("unsafe", "at $.amount: integer beyond"),
        ("nan", "at $.amount: numbers must be integers"),
        ("infinity", "at $.amount: numbers must be integers"),
        ("minus_zero", "at $.amount: -0 is not canonical"),
        ("bigint", "at $.amount: a bigint has no JSON form"),
        ("null", "at $.wallet: null is not allowed"),
        ("undefined", "at $.wallet: a undefined has no JSON form"),
        ("map", "at $: a Map is not a JSON object"),
        ("date", "at $.when: a Date is not a JSON object"),
        ("symbol", "object keys must be strings, not symbols"),
        ("surrogate", "at $.name: a lone surrogate is not UTF-8"),
        ("hole", "at $.keys[1]: an array hole"),
        ("function", "at $.f: a function has no JSON form"),
    ],
)
def test_non_canonical_values_are_refused_with_a_reason(
    on_site: Page, name: str, says: str
) -> None:
    got = run(on_site, REFUSE, name)
    assert got.startswith("CanonicalError: "), got
    assert says in got


def test_a_command_that_is_not_canonical_is_not_signed(on_site: Page) -> None:
    got = run(
        on_site,
        """async (seedHex) => {
          const keys = await import("/static/js/wallet/keys.js");
          try {
            await keys.signCommand(keys.hexToBytes(seedHex), {type: "pay", amount: 17000.5});
            return "signed";
          } catch (e) { return e.name; }
        }""",
        SEED_HEX,
    )
    assert got == "CanonicalError"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_challenge_is_signed_as_given(on_site: Page, backend: str) -> None:
    message = b"localpay/login/v1\ngimpo\nw-0000001\n" + b"ab" * 16
    got = run(
        on_site,
        """async ([backend, seedHex, hex]) => {
          const keys = await import("/static/js/wallet/keys.js");
          keys.useBackend(backend);
          return keys.signChallenge(keys.hexToBytes(seedHex), hex);
        }""",
        [backend, SEED_HEX, message.hex()],
    )
    assert got == pinned.KEY.sign(message).signature.hex()


def test_ids_and_seeds_are_random_and_well_formed(on_site: Page) -> None:
    got = run(
        on_site,
        """async () => {
          const keys = await import("/static/js/wallet/keys.js");
          const seeds = [keys.newSeed(), keys.newSeed()];
          const key = await keys.publicKeyHex(seeds[0]);
          return {ids: [keys.newCommandId(), keys.newCommandId()],
                  seeds: seeds.map(s => keys.bytesToHex(s)), wallet: keys.walletIdFor(key)};
        }""",
    )
    assert all(len(i) == 32 and i == i.lower() and int(i, 16) >= 0 for i in got["ids"])
    assert got["ids"][0] != got["ids"][1]
    assert all(len(s) == 64 for s in got["seeds"]) and got["seeds"][0] != got["seeds"][1]
    assert re.fullmatch(r"w-[0-9a-hjkmnp-tv-z]{10}", got["wallet"])


# -- recovery codes -----------------------------------------------------------------------

CODE = """async ([seedHex]) => {
  const keys = await import("/static/js/wallet/keys.js");
  return keys.recoveryCode(keys.hexToBytes(seedHex));
}"""
READ = """async (code) => {
  const keys = await import("/static/js/wallet/keys.js");
  try { return {seed: keys.bytesToHex(keys.seedFromRecoveryCode(code))}; }
  catch (e) { return {error: e.name, reason: e.reason}; }
}"""


def code_of(page: Page, seed_hex: str = SEED_HEX) -> str:
    code: str = run(page, CODE, [seed_hex])
    return code


def test_a_recovery_code_is_14_groups_of_4_and_gives_the_seed_back(on_site: Page) -> None:
    code = code_of(on_site)
    groups = code.split(" ")
    assert len(groups) == 14 and all(len(g) == 4 for g in groups)
    assert set(code.replace(" ", "")) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert run(on_site, READ, code) == {"seed": SEED_HEX}
    for seed in ("00" * 32, "ff" * 32, "5a" * 32):
        assert run(on_site, READ, code_of(on_site, seed)) == {"seed": seed}


def test_a_recovery_code_forgives_case_spacing_and_look_alike_letters(on_site: Page) -> None:
    code = code_of(on_site)
    sloppy = code.lower().replace(" ", "-").replace("0", "o").replace("1", "l")
    assert run(on_site, READ, sloppy) == {"seed": SEED_HEX}
    assert run(on_site, READ, "  " + code.replace(" ", "") + "\n") == {"seed": SEED_HEX}
    assert run(on_site, READ, code.replace("1", "I")) == {"seed": SEED_HEX}


def test_every_single_typo_is_caught(on_site: Page) -> None:
    code = code_of(on_site).replace(" ", "")
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    typos = []
    for i, ch in enumerate(code):
        other = alphabet[(alphabet.index(ch) + 7) % 32]
        typos.append(code[:i] + other + code[i + 1 :])
    swaps = [
        code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        for i in range(len(code) - 1)
        if code[i] != code[i + 1]
    ]
    got = run(
        on_site,
        """async (codes) => {
          const keys = await import("/static/js/wallet/keys.js");
          return codes.map(c => { try { keys.seedFromRecoveryCode(c); return "accepted"; }
                                  catch (e) { return e.reason; } });
        }""",
        typos + swaps,
    )
    assert got == ["checksum"] * len(typos + swaps)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda code: code[:-5], "length"),
        (lambda code: code + " AAAA", "length"),
        (lambda code: "U" + code[1:], "character"),
        (lambda code: code[:10] + "*" + code[11:], "character"),
        (lambda code: "", "length"),
    ],
    ids=["short", "long", "letter-u", "symbol", "empty"],
)
def test_a_wrong_code_is_refused_with_a_reason(on_site: Page, change: Any, reason: str) -> None:
    got = run(on_site, READ, change(code_of(on_site)))
    assert got == {"error": "RecoveryCodeError", "reason": reason}


def test_the_device_store_keeps_one_wallet_per_city(on_site: Page) -> None:
    got = run(
        on_site,
        """async (seedHex) => {
          const keys = await import("/static/js/wallet/keys.js");
          const seed = keys.hexToBytes(seedHex);
          await keys.saveWallet("gimpo", "w-abc", seed);
          const back = await keys.loadWallet("gimpo");
          const other = await keys.loadWallet("yangju");
          await keys.forgetWallet("gimpo");
          return {wallet: back.wallet, key: back.key, seed: keys.bytesToHex(back.seed),
                  other, gone: await keys.loadWallet("gimpo")};
        }""",
        SEED_HEX,
    )
    assert got == {
        "wallet": "w-abc",
        "key": pinned.PUBLIC,
        "seed": SEED_HEX,
        "other": None,
        "gone": None,
    }


def test_without_ed25519_in_webcrypto_the_noble_path_signs_the_same(on_site: Page) -> None:
    """A browser whose WebCrypto has no Ed25519 (older Safari, Firefox before 129): "auto"
    falls back to the vendored noble and still makes the pinned signature."""
    got = run(
        on_site,
        """async ([seedHex, body]) => {
          const original = crypto.subtle.importKey.bind(crypto.subtle);
          crypto.subtle.importKey = async (format, data, algorithm, ...rest) => {
            if ((algorithm.name || algorithm) === "Ed25519") {
              throw new DOMException("Unrecognized name.", "NotSupportedError");
            }
            return original(format, data, algorithm, ...rest);
          };
          try {
            const keys = await import("/static/js/wallet/keys.js");
            keys.useBackend("auto");
            const envelope = await keys.signCommand(keys.hexToBytes(seedHex), body);
            return [await keys.backendName(), envelope.sigs[0].sig];
          } finally {
            crypto.subtle.importKey = original;
          }
        }""",
        [SEED_HEX, PAY_BODY],
    )
    assert got == ["noble", pinned.PAY_SIG]
