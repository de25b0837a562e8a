"""`localpay verify-receipt` and the standalone tools/verify_receipt.py agree on real receipts.

Receipts come from a real chain whose witnesses cosigned a checkpoint; each is then
tampered with in one way. Both verifiers run as subprocesses on the same files and
must give the same verdict on every check and the same exit status.
"""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from localpay.adapters.keystore import KeyStore
from localpay.bootstrap import open_store
from localpay.domain import commands as c
from localpay.ledger.blocks import decode_header, leaf_bytes
from localpay.ledger.log import checkpoint, merkle
from localpay.ledger.signatures import public_key_hex, sign_command
from localpay.services.cities.ledgers import OPERATOR, Ledgers, new_id
from localpay.services.cities.officials import official_keys
from localpay.services.transparency.service import Transparency
from localpay.sim.bench import BenchCity

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
STANDALONE = ROOT / "tools" / "verify_receipt.py"
CITY = "rcity"
# The CLI as `localpay verify-receipt`, importing the command's module explicitly so the
# test does not depend on where the CLI registers its command groups.
CLI = [
    sys.executable,
    "-c",
    "from localpay.entrypoints.cli.main import app; app(prog_name='localpay')",
    "verify-receipt",
]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two receipts (final, not final), the operator key and the witnesses' keys."""
    folder = tmp_path_factory.mktemp("receipts")
    store = open_store(f"sqlite:///{folder}/ledger.db")
    ledgers = Ledgers(store, KeyStore(folder / "keys"), lambda: int(time.time() * 1000))
    try:
        bench = BenchCity(ledgers, CITY)
        bench.set_up(wallets=4, merchants=2)
        witnesses = [(f"w{n}.example.org", nacl.signing.SigningKey.generate()) for n in range(3)]
        command = c.SetWitnesses(
            id=new_id(),
            city=CITY,
            witnesses=[c.Witness(name=n, key=public_key_hex(k)) for n, k in witnesses],
            quorum=2,
        )
        signed = sign_command(command, official_keys(ledgers.keys, CITY)[:2])
        assert ledgers.execute(CITY, signed).ok
        paid = [ledgers.execute(CITY, p) for p in bench.payments(5)]
        head = store.head(CITY)
        assert head is not None
        size = decode_header(head.header_bytes).log_size
        body, _ = checkpoint.open_note(head.checkpoint)
        tp = Transparency(store).start(background=False)
        for name, key in witnesses[:2]:
            tp.add_cosignature(CITY, size, checkpoint.cosign(body, name, bytes(key), 1_780_000_000))
        later = ledgers.execute(CITY, bench.payments(1, seed=9)[0])
        final = tp.receipt(CITY, paid[1].id)
        pending = tp.receipt(CITY, later.id)
        assert final["final"] and not pending["final"]
        return {
            "final": final,
            "pending": pending,
            "operator": public_key_hex(ledgers.keys.load(CITY, OPERATOR)),
            "witnesses": [f"{n}={public_key_hex(k)}" for n, k in witnesses],
        }
    finally:
        ledgers.close()
        store.close()


def run(argv: list[str], receipt: Path, *options: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [*argv, str(receipt), *options], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, done.stdout.splitlines()


def usage_error(receipt: Path, *options: str) -> list[str]:
    """Both verifiers refuse the options (exit 2, nothing checked); their messages."""
    messages = []
    for argv in (CLI, [sys.executable, str(STANDALONE)]):
        done = subprocess.run(
            [*argv, str(receipt), *options], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2 and not done.stdout, (done.stdout, done.stderr)
        messages.append(done.stderr)
    return messages


def pins(chain: dict[str, Any], quorum: int = 2) -> list[str]:
    """The city's operator key, its three witnesses and a quorum, all pinned."""
    out = ["--operator-key", chain["operator"]]
    for witness in chain["witnesses"]:
        out += ["--witness", witness]
    return [*out, "--quorum", str(quorum)]


def verdicts(lines: list[str]) -> list[tuple[str, str]]:
    return [(line.split()[0], line.split()[1].rstrip(":")) for line in lines]


def both(receipt: Path, *options: str) -> tuple[int, list[tuple[str, str]], list[str]]:
    """Run both verifiers; they must agree. Returns (exit, verdicts, CLI lines)."""
    cli_exit, cli_lines = run(CLI, receipt, *options)
    tool_exit, tool_lines = run([sys.executable, str(STANDALONE)], receipt, *options)
    assert cli_exit == tool_exit, (cli_lines, tool_lines)
    assert verdicts(cli_lines) == verdicts(tool_lines), (cli_lines, tool_lines)
    if not any("unreadable" in line or "not JSON" in line for line in cli_lines):
        assert cli_lines == tool_lines  # same words, too
    return cli_exit, verdicts(cli_lines), cli_lines


def failed(result: tuple[int, list[tuple[str, str]], list[str]]) -> set[str]:
    return {name for status, name in result[1] if status == "FAIL"}


def _tamper_tx(r: dict[str, Any]) -> None:
    tx = r["transaction"]
    tx["envelope"] = tx["envelope"].replace('"amount":', '"amount":1', 1)


def _tamper_result(r: dict[str, Any]) -> None:
    r["transaction"]["result"] = r["transaction"]["result"].replace('"ok"', '"insufficient_funds"')


def _tamper_proof(r: dict[str, Any]) -> None:
    first = r["inclusion_proof"][0]
    r["inclusion_proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]


def _wrong_root(r: dict[str, Any]) -> None:
    body, sigs = r["note"].split("\n\n", 1)
    origin, size, _root = body.split("\n")
    r["note"] = f"{origin}\n{size}\n{'A' * 43}=\n\n{sigs}"


def _drop_cosignatures(r: dict[str, Any]) -> None:
    lines = r["note"].split("\n")
    r["note"] = "\n".join(line for line in lines if ".example.org " not in line)


def _drop_proof_step(r: dict[str, Any]) -> None:
    r["inclusion_proof"].pop()


def _other_leaf_index(r: dict[str, Any]) -> None:
    r["leaf_index"] -= 1


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], None], set[str]]] = {
    "tampered tx": (_tamper_tx, {"transaction", "leaf", "inclusion"}),
    "tampered result": (_tamper_result, {"leaf", "inclusion"}),
    "tampered proof": (_tamper_proof, {"inclusion"}),
    "short proof": (_drop_proof_step, {"inclusion"}),
    "other leaf index": (_other_leaf_index, {"transaction", "inclusion"}),
    "wrong root": (_wrong_root, {"operator", "inclusion", "cosignatures", "quorum"}),
    "missing cosignatures": (_drop_cosignatures, {"quorum"}),
}


def write(tmp_path: Path, name: str, receipt: Any) -> Path:
    path = tmp_path / f"{name.replace(' ', '-')}.json"
    path.write_text(json.dumps(receipt, ensure_ascii=False, indent=2))
    return path


def test_a_valid_final_receipt_passes_both(chain: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "final", chain["final"])
    code, results, lines = both(path, "--allow-unpinned")
    assert code == 0 and all(status == "ok" for status, _ in results), lines
    assert [name for _, name in results] == [
        "format",
        "transaction",
        "leaf",
        "checkpoint",
        "operator",
        "inclusion",
        "cosignatures",
        "quorum",
    ]
    assert "SELF-ASSERTED" in next(line for line in lines if "operator:" in line)
    assert "FINAL" in lines[-1] and "SELF-ASSERTED" in lines[-1]
    code, results, lines = both(path, *pins(chain), "--require-final")
    assert code == 0 and all(status == "ok" for status, _ in results), lines
    assert not any("SELF-ASSERTED" in line for line in lines)
    assert "pinned" in next(line for line in lines if "operator:" in line)
    assert lines[-1] == "ok   quorum: FINAL: 2 cosignature(s), quorum 2"


def test_without_a_pinned_operator_key_a_receipt_fails(
    chain: dict[str, Any], tmp_path: Path
) -> None:
    """Strict by default: the receipt's own operator key proves nothing."""
    path = write(tmp_path, "final", chain["final"])
    code, results, lines = both(path)
    assert code == 1 and failed((code, results, lines)) == {"operator"}, lines
    assert "no operator key pinned" in next(line for line in lines if "operator:" in line)
    # Operator pinned, witnesses not: sound, but finality is not claimed.
    code, results, lines = both(path, "--operator-key", chain["operator"])
    assert code == 0 and results[-2:] == [("warn", "cosignatures"), ("warn", "quorum")], lines
    assert "NOT CHECKED" in lines[-1] and "FINAL:" not in lines[-1]


def test_a_fully_forged_receipt_fails_unless_explicitly_unpinned(
    chain: dict[str, Any], tmp_path: Path
) -> None:
    """A receipt made up from scratch by someone holding no key of the city: its own
    command, a one-leaf log, a checkpoint signed by a key of its own."""
    forger = nacl.signing.SigningKey.generate()
    command = c.OpenWallet(
        id=new_id(), city=CITY, wallet="w-9999999", keys=[public_key_hex(forger)], custodial=False
    )
    envelope = sign_command(command, [forger])
    result = b'{"code":"ok"}'
    leaf = merkle.leaf_hash(leaf_bytes(envelope, result))
    origin = f"localpay.city/{CITY}/{'ab' * 32}"
    body = checkpoint.checkpoint_body(origin, 1, merkle.root([leaf]))
    note = checkpoint.note_text(body, [checkpoint.sign_note(body, origin, bytes(forger))])
    forged = {
        **chain["final"],
        "origin": origin,
        "operator_key": public_key_hex(forger),
        "tree_size": 1,
        "note": note,
        "witnesses": [],
        "quorum": 0,
        "final": False,
        "transaction": {
            "id": command.id,
            "seq": 0,
            "height": 1,
            "kind": "open_wallet",
            "envelope": envelope.decode(),
            "result": result.decode(),
        },
        "leaf_index": 0,
        "leaf_hash": leaf.hex(),
        "inclusion_proof": [],
    }
    path = write(tmp_path, "forged", forged)
    code, results, lines = both(path)
    assert code == 1 and failed((code, results, lines)) == {"operator"}, lines
    assert failed(both(path, *pins(chain))) == {"operator"}  # the city's key did not sign
    # Only by asking for it does a consistency check pass, and it says so.
    code, _, lines = both(path, "--allow-unpinned")
    assert code == 0 and "SELF-ASSERTED" in next(line for line in lines if "operator:" in line)


def test_finality_comes_from_the_pinned_quorum_never_the_receipts(
    chain: dict[str, Any], tmp_path: Path
) -> None:
    """One cosignature left and the receipt's quorum edited to 1: not FINAL against the
    pinned quorum of 2; witness pins without a quorum are refused outright."""
    receipt = copy.deepcopy(chain["final"])
    lines = receipt["note"].split("\n")
    first = next(n for n, line in enumerate(lines) if ".example.org " in line)
    receipt["note"] = "\n".join(
        line for n, line in enumerate(lines) if n == first or ".example.org " not in line
    )
    receipt["quorum"] = 1
    path = write(tmp_path, "quorum-one", receipt)
    code, results, lines = both(path, *pins(chain), "--require-final")
    assert code == 1 and failed((code, results, lines)) == {"quorum"}, lines
    assert "FINAL:" not in lines[-1] and "quorum 2" in lines[-1]
    witnesses_only = [x for w in chain["witnesses"] for x in ("--witness", w)]
    for options in (
        witnesses_only,
        [*witnesses_only, "--require-final"],
        ["--quorum", "1"],
        ["--require-final", "--allow-unpinned"],
        [*witnesses_only, "--quorum", "4"],
    ):
        for message in usage_error(path, "--operator-key", chain["operator"], *options):
            assert "--quorum" in message or "--witness" in message, message


def test_a_pending_receipt_passes_with_a_warning(chain: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "pending", chain["pending"])
    code, results, lines = both(path, *pins(chain))
    assert code == 0 and results[-1] == ("warn", "quorum"), lines
    assert "NOT FINAL" in lines[-1]
    code, results, _ = both(path, *pins(chain), "--require-final")
    assert code == 1 and failed((code, results, [])) == {"quorum"}


@pytest.mark.parametrize("kind", list(TAMPERINGS))
def test_tampering_is_detected_by_both(kind: str, chain: dict[str, Any], tmp_path: Path) -> None:
    tamper, expected = TAMPERINGS[kind]
    receipt = copy.deepcopy(chain["final"])
    tamper(receipt)
    result = both(write(tmp_path, kind, receipt), *pins(chain))
    assert result[0] == 1, result[2]
    assert failed(result) == expected, result[2]


def test_pinned_keys_that_differ_fail(chain: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "final", chain["final"])
    stranger = public_key_hex(nacl.signing.SigningKey.generate())
    witnesses = pins(chain)[2:]
    assert failed(both(path, "--operator-key", stranger, *witnesses)) == {"operator"}
    # Witnesses pinned to other keys: their cosignatures no longer count.
    names = [w.split("=")[0] for w in chain["witnesses"]]
    others = [x for n in names for x in ("--witness", f"{n}={stranger}")]
    assert failed(both(path, "--operator-key", chain["operator"], *others, "--quorum", "2")) == {
        "cosignatures",
        "quorum",
    }
    assert failed(both(path, *pins(chain, quorum=3))) == {"quorum"}


def test_unusable_receipts(chain: dict[str, Any], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert both(garbage)[1] == [("FAIL", "format")]
    incomplete = copy.deepcopy(chain["final"])
    del incomplete["inclusion_proof"]
    assert both(write(tmp_path, "incomplete", incomplete))[1] == [("FAIL", "format")]
    surrogate = copy.deepcopy(chain["final"])
    surrogate["transaction"]["envelope"] += "\ud800"  # valid JSON, not valid UTF-8
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps(surrogate))
    assert both(path)[1] == [("FAIL", "format")]
    note = copy.deepcopy(chain["final"])
    note["note"] = "not a note"
    result = both(write(tmp_path, "note", note))
    assert failed(result) == {"checkpoint", "operator", "inclusion", "cosignatures", "quorum"}


def test_the_standalone_verifier_imports_only_the_standard_library_and_nacl() -> None:
    tree = ast.parse(STANDALONE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"nacl", "__future__"}
    assert imported <= allowed, imported - allowed
    assert "localpay" not in imported
