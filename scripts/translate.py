"""Fill translations into a page catalog: `uv run python scripts/translate.py ko < pairs.tsv`.

Each input line is `English msgid<TAB>translation`. Entries already translated are
replaced; msgids the catalog does not have (run `make messages` first) are reported and
skipped. The catalog is rewritten in place, sorted as `make messages` writes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).resolve().parent.parent / "src/localpay/entrypoints/web/locale"


def main(lang: str) -> int:
    path = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    missing = 0
    for line in sys.stdin.read().splitlines():
        if not line.strip():
            continue
        msgid, _, text = line.partition("\t")
        message = catalog.get(msgid)
        if message is None:
            print(f"not in the catalog (run make messages): {msgid!r}", file=sys.stderr)
            missing += 1
            continue
        message.string = text.replace("\\n", "\n")
        message.flags.discard("fuzzy")
    with path.open("wb") as f:
        write_po(f, catalog, no_location=True, sort_output=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
