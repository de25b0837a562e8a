"""The city's data on citizens, for eligibility: loaded sealed, judged, then deleted.

PIPA: keep only what is needed. A file of the city's data (`citizen,birth,residence,
employment`) is checked whole before anything is kept; each line is sealed under the
master key (adapters/secrets.Sealer), bound to its city, program and wallet. `decide`
judges what is waiting at a date, records each decision with a fresh salt and the salted
hash of the evidence, and deletes the evidence in the same transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import msgspec

from localpay.domain.calendar import iso_date
from localpay.domain.errors import NotFound, Refused
from localpay.domain.policy import Grant
from localpay.services.cities.ledgers import Ledgers
from localpay.services.programs import eligibility as rules
from localpay.services.programs.ports import Decision, ProgramRepository, Sealer

HEADER = ("citizen", "birth", "residence", "employment")
#: Bad lines named in an error at most (a file with thousands of them names the first).
SHOWN_ERRORS = 20


class EvidenceFileError(Refused, ValueError):
    """The file is not loaded: nothing of it was kept."""


class NotJudged(Refused, ValueError):
    """The program has no eligibility rules, so there is nothing to judge."""


@dataclass(frozen=True)
class Decided:
    eligible: int
    ineligible: int


def _context(city: str, program: str, wallet: str) -> bytes:
    return f"localpay/eligibility/{city}/{program}/{wallet}".encode()


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a date like 2001-02-28") from None


def parse_stays(text: str) -> tuple[rules.Stay, ...]:
    """`2015-03-01/2020-02-28;2021-01-01/` (ISO 8601 intervals; an open end lasts)."""
    stays = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        start, sep, end = part.partition("/")
        if not sep:
            raise ValueError(f"residence {part!r} is not a period like 2015-03-01/2020-02-28")
        stay = rules.Stay(
            _day(start, "residence start"), _day(end, "residence end") if end else None
        )
        if stay.end is not None and stay.end < stay.start:
            raise ValueError(f"residence {part!r} ends before it starts")
        stays.append(stay)
    return tuple(stays)


def parse_evidence(lines: Iterable[str]) -> list[rules.Evidence]:
    """Every line of the file, or EvidenceFileError naming the bad ones."""
    reader = csv.reader(lines)
    header = tuple(h.strip().lower() for h in next(reader, ()))
    if header != HEADER:
        raise EvidenceFileError(f"the first line must be {','.join(HEADER)}")
    found: list[rules.Evidence] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, fields in enumerate(reader, start=2):
        try:
            if len(fields) != len(HEADER):
                raise ValueError(f"{len(fields)} fields, expected {len(HEADER)}")
            wallet, birth, residence, employment = (f.strip() for f in fields)
            if not wallet or wallet in seen:
                raise ValueError(f"citizen {wallet!r} is empty or repeated")
            seen.add(wallet)
            found.append(
                rules.Evidence(wallet, _day(birth, "birth"), parse_stays(residence), employment)
            )
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
    if errors:
        more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
        raise EvidenceFileError("; ".join(errors[:SHOWN_ERRORS]) + more)
    return found


def _decode(blob: bytes) -> rules.Evidence:
    raw = msgspec.json.decode(blob)
    stays = tuple(
        rules.Stay(date.fromisoformat(s), date.fromisoformat(e) if e else None)
        for s, e in raw["stays"]
    )
    return rules.Evidence(raw["wallet"], date.fromisoformat(raw["birth"]), stays, raw["employment"])


class EligibilityData:
    def __init__(
        self,
        repo: ProgramRepository,
        sealer: Sealer,
        ledgers: Ledgers,
        clock: Callable[[], int],
    ) -> None:
        self.repo = repo
        self.sealer = sealer
        self.ledgers = ledgers
        self.clock = clock

    def grant(self, city: str, program: str) -> Grant:
        state = self.ledgers.sequencer(city).state
        found = state.programs.get(program)
        if found is None:
            raise NotFound(f"city {city!r} has no program {program!r}")
        grant = found.versions[-1].grant
        if grant is None or not rules.judges_anything(grant):
            raise NotJudged(f"program {program!r} has no eligibility rules to judge")
        return grant

    def load(self, city: str, program: str, lines: Iterable[str]) -> int:
        """Seal and keep every line of the file (all or none); returns how many."""
        self.grant(city, program)
        evidence = parse_evidence(lines)
        sealed = [
            (e.wallet, self.sealer.seal(rules.canonical(e), _context(city, program, e.wallet)))
            for e in evidence
        ]
        self.repo.put_evidence(city, program, sealed, self.clock())
        return len(sealed)

    def decide(self, city: str, program: str, day: date | None = None) -> Decided:
        """Judge the waiting evidence at `day` (today in Korea by default), keep the
        decisions with their salted hashes and delete the evidence."""
        grant = self.grant(city, program)
        on = day or date.fromisoformat(iso_date(self.clock()))
        decisions = []
        for wallet, blob in self.repo.pending_evidence(city, program):
            evidence = _decode(self.sealer.open(blob, _context(city, program, wallet)))
            verdict = rules.judge(grant, evidence, on)
            salt = rules.new_salt()
            digest = rules.evidence_hash(evidence, salt)
            decisions.append(
                Decision(wallet, verdict.eligible, verdict.reasons, digest, salt, on.isoformat())
            )
        self.repo.record_decisions(city, program, decisions, self.clock())
        eligible = sum(d.eligible for d in decisions)
        return Decided(eligible, len(decisions) - eligible)
