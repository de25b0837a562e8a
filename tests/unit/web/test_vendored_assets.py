"""The vendored front-end assets are exactly what scripts/vendor-assets.sh recorded.

The pages load no CDN, so these files are the code our users' browsers run: a byte
changed by hand, a file dropped in without a checksum, a package without its licence,
or an htmx outside the 2.0 line we build against must fail here.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

import localpay

# Found through the package rather than the web app, so this needs no web imports.
VENDOR = Path(localpay.__file__).parent / "entrypoints" / "web" / "static" / "vendor"
CHECKSUMS = "checksums.sha256"
NOTES = "VENDOR.md"
# The htmx lines the templates are written for (hx-* attributes, the SSE extension's API).
PINS = {"htmx.org": r"2\.0\.\d+", "htmx-ext-sse": r"2\.2\.\d+"}
CHECKSUM_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")
TABLE_ROW = re.compile(r"\| `([^`/]+)/` \| (\S+) \| (\S+) \|")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recorded_checksums(root: Path) -> tuple[dict[str, str], list[str]]:
    """Path -> sha256 from checksums.sha256, and the lines that are not in sha256sum form."""
    recorded: dict[str, str] = {}
    bad: list[str] = []
    for line in (root / CHECKSUMS).read_text(encoding="utf-8").splitlines():
        match = CHECKSUM_LINE.fullmatch(line)
        # A path leaving the folder would let the list vouch for files outside it.
        if match is None or match[2].startswith("/") or ".." in match[2].split("/"):
            bad.append(line)
        else:
            recorded[match[2]] = match[1]
    return recorded, bad


def files_on_disk(root: Path) -> set[str]:
    paths = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return paths - {CHECKSUMS, NOTES}


def pinned_versions(root: Path) -> dict[str, tuple[str, str]]:
    """npm package -> (folder, version), from the generated table of VENDOR.md."""
    text = (root / NOTES).read_text(encoding="utf-8")
    return {m[2]: (m[1], m[3]) for m in TABLE_ROW.finditer(text)}


def pin_problems(versions: dict[str, tuple[str, str]]) -> list[str]:
    problems = []
    for package, pattern in PINS.items():
        _folder, version = versions.get(package, ("", "missing"))
        if re.fullmatch(pattern, version) is None:
            problems.append(f"{package} is pinned at {version}, not {pattern}")
    return problems


def checksum_problems(root: Path) -> list[str]:
    """Files that differ from, are missing from, or are missing in checksums.sha256."""
    recorded, bad = recorded_checksums(root)
    problems = [f"{CHECKSUMS}: not a sha256sum line: {line!r}" for line in bad]
    for path, digest in sorted(recorded.items()):
        if not (root / path).is_file():
            problems.append(f"{path}: listed in {CHECKSUMS} but missing")
        elif sha256_of(root / path) != digest:
            problems.append(f"{path}: sha256 differs from {CHECKSUMS}")
    unlisted = sorted(files_on_disk(root) - set(recorded))
    return problems + [f"{path}: not listed in {CHECKSUMS}" for path in unlisted]


def folder_problems(root: Path) -> list[str]:
    """Package folders without a licence, or not matching the table of VENDOR.md."""
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    in_table = {folder for folder, _version in pinned_versions(root).values()}
    problems = [f"{f}/: has no LICENSE" for f in folders if not (root / f / "LICENSE").is_file()]
    problems += [f"{f}/: not in the table of {NOTES}" for f in folders if f not in in_table]
    return problems + [f"{f}/: in {NOTES} but missing" for f in sorted(in_table - set(folders))]


def vendor_problems(root: Path) -> list[str]:
    """Everything wrong with the vendored tree at root; empty when it is as recorded."""
    return checksum_problems(root) + folder_problems(root) + pin_problems(pinned_versions(root))


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A private copy of the vendored tree, for tampering with."""
    return Path(shutil.copytree(VENDOR, tmp_path / "vendor"))


def test_the_vendored_tree_is_as_recorded() -> None:
    assert vendor_problems(VENDOR) == []


def test_every_package_is_recorded() -> None:
    versions = pinned_versions(VENDOR)
    assert set(versions) == {
        "htmx.org",
        "htmx-ext-sse",
        "@picocss/pico",
        "barcode-detector",
        "zxing-wasm",
        "uplot",
        "axe-core",
        "@noble/ed25519",
    }


def test_one_changed_byte_is_caught(copy: Path) -> None:
    target = copy / "htmx" / "htmx.min.js"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0x01
    target.write_bytes(bytes(data))
    assert vendor_problems(copy) == [f"htmx/htmx.min.js: sha256 differs from {CHECKSUMS}"]


def test_an_unlisted_file_is_caught(copy: Path) -> None:
    (copy / "htmx" / "htmx.js").write_text("/* dropped in by hand */", encoding="utf-8")
    assert vendor_problems(copy) == [f"htmx/htmx.js: not listed in {CHECKSUMS}"]


def test_a_missing_file_is_caught(copy: Path) -> None:
    (copy / "uplot" / "uPlot.min.css").unlink()
    assert vendor_problems(copy) == [f"uplot/uPlot.min.css: listed in {CHECKSUMS} but missing"]


def test_a_package_without_its_licence_is_caught(copy: Path) -> None:
    (copy / "pico" / "LICENSE").unlink()
    assert "pico/: has no LICENSE" in vendor_problems(copy)


def test_a_path_leaving_the_folder_is_refused(copy: Path) -> None:
    line = f"{'0' * 64}  ../app.py"
    with (copy / CHECKSUMS).open("a", encoding="utf-8") as out:
        out.write(line + "\n")
    assert vendor_problems(copy) == [f"{CHECKSUMS}: not a sha256sum line: {line!r}"]


def test_htmx_is_pinned_to_the_2_0_line_and_sse_to_2_2() -> None:
    assert pin_problems(pinned_versions(VENDOR)) == []


def test_an_htmx_outside_the_2_0_line_is_caught(copy: Path) -> None:
    notes = copy / NOTES
    pinned = pinned_versions(copy)["htmx.org"][1]
    text = notes.read_text(encoding="utf-8")
    notes.write_text(text.replace(f"| htmx.org | {pinned} |", "| htmx.org | 2.1.0 |"), "utf-8")
    assert vendor_problems(copy) == [f"htmx.org is pinned at 2.1.0, not {PINS['htmx.org']}"]


def test_htmx_file_is_the_version_in_the_table() -> None:
    _folder, version = pinned_versions(VENDOR)["htmx.org"]
    assert f'version:"{version}"' in (VENDOR / "htmx" / "htmx.min.js").read_text("utf-8")


def test_the_zxing_wasm_is_the_build_barcode_detector_expects() -> None:
    # zxing-exported.js carries the sha256 of the .wasm it was built with; another build
    # would be fetched from /static/vendor/zxing-wasm/ and fail or misread at run time.
    bundle = (VENDOR / "barcode-detector" / "zxing-exported.js").read_text("utf-8")
    wasm = sha256_of(VENDOR / "zxing-wasm" / "zxing_reader.wasm")
    assert wasm in re.findall(r"[0-9a-f]{64}", bundle)
