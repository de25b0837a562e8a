"""Who may receive policy money: a program's `Grant` rules judged on the city's data.

Pure rules, no I/O. The city supplies, per pseudonymous citizen (a wallet id), a birth
date, the periods lived in the city and an employment status (`Evidence`). They are
judged at a decision date: age in full years (만 나이), the continuous years of the
residence that includes the decision date, and the total years of all residence. The
data never reaches the chain; the decision keeps only a salted hash of it
(`evidence_hash`), which the chain records with each payment, so that an auditor given
the evidence and the salt can check what the decision was made on.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import msgspec

from localpay.domain.policy import Grant

#: Days in a mean Gregorian year (146,097 days per 400 years): total residence made of
#: several periods has no anniversary, so its full years are counted in mean years.
_DAYS_PER_400_YEARS: Final = 146_097
_HASH_PREFIX: Final = b"localpay/eligibility-evidence/v1\n"
_encoder: Final = msgspec.json.Encoder(order="sorted")

# The reasons a decision gives, as short labels (pages translate them).
TOO_YOUNG: Final = "too_young"
TOO_OLD: Final = "too_old"
RESIDENCE: Final = "residence"
EMPLOYMENT: Final = "employment"


@dataclass(frozen=True)
class Stay:
    """A period lived in the city, both days included; `end` None while it lasts."""

    start: date
    end: date | None = None


@dataclass(frozen=True)
class Evidence:
    wallet: str
    birth: date
    stays: tuple[Stay, ...]
    employment: str = ""


@dataclass(frozen=True)
class Verdict:
    eligible: bool
    reasons: tuple[str, ...]
    age: int
    continuous_years: int
    total_years: int


def anniversary(start: date, years: int) -> date:
    """The day `years` full years after `start`. A 29 February start reaches its
    anniversary on 1 March in a common year (Civil Code art. 160: the period ends on the
    day before the anniversary's day, and a missing day means the month's last day)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        return date(start.year + years, 3, 1)


def full_years(start: date, day: date) -> int:
    """Whole years from `start` to `day` (0 if `day` is before `start`)."""
    if day < start:
        return 0
    years = day.year - start.year
    return years if anniversary(start, years) <= day else years - 1


def age_on(birth: date, day: date) -> int:
    """만 나이 on `day`: full years since birth."""
    return full_years(birth, day)


def _clipped(stay: Stay, day: date) -> tuple[date, date] | None:
    """The part of a stay up to `day`, or None if it starts after it."""
    end = day if stay.end is None or stay.end > day else stay.end
    return (stay.start, end) if stay.start <= end else None


def continuous_years(stays: tuple[Stay, ...], day: date) -> int:
    """Full years of the stay that includes `day` (adjoining stays joined), else 0."""
    spans = sorted(s for s in (_clipped(stay, day) for stay in stays) if s is not None)
    start: date | None = None
    reach: date | None = None
    for first, last in spans:
        if reach is not None and first <= reach + timedelta(days=1):
            reach = max(reach, last)
        else:
            start, reach = first, last
    if start is None or reach != day:
        return 0
    return full_years(start, day)


def total_years(stays: tuple[Stay, ...], day: date) -> int:
    """Full mean years of all days lived in the city up to `day` (overlaps once)."""
    covered: set[int] = set()
    for stay in stays:
        span = _clipped(stay, day)
        if span is not None:
            covered.update(range(span[0].toordinal(), span[1].toordinal() + 1))
    return len(covered) * 400 // _DAYS_PER_400_YEARS


def judge(grant: Grant, evidence: Evidence, day: date) -> Verdict:
    """The decision on `day`. Ages: min_age..max_age (0 = no bound). Residence: either
    `residence_years` continuous or `residence_total_years` in all, when both are set
    (the youth dividend's "3 years continuous or 10 years in total"). Employment: the
    status must be one of `employment` when it lists any."""
    age = age_on(evidence.birth, day)
    continuous = continuous_years(evidence.stays, day)
    total = total_years(evidence.stays, day)
    reasons: list[str] = []
    if grant.min_age and age < grant.min_age:
        reasons.append(TOO_YOUNG)
    if grant.max_age and age > grant.max_age:
        reasons.append(TOO_OLD)
    if not _resident(grant, continuous, total):
        reasons.append(RESIDENCE)
    if grant.employment and evidence.employment not in grant.employment:
        reasons.append(EMPLOYMENT)
    return Verdict(not reasons, tuple(reasons), age, continuous, total)


def _resident(grant: Grant, continuous: int, total: int) -> bool:
    rules = [
        (grant.residence_years, continuous),
        (grant.residence_total_years, total),
    ]
    wanted = [(need, have) for need, have in rules if need]
    return not wanted or any(have >= need for need, have in wanted)


def judges_anything(grant: Grant | None) -> bool:
    """Whether a program's grant has eligibility rules (else no evidence is needed)."""
    if grant is None:
        return False
    return bool(
        grant.min_age
        or grant.max_age
        or grant.residence_years
        or grant.residence_total_years
        or grant.employment
    )


def canonical(evidence: Evidence) -> bytes:
    """The one byte string the evidence hash is over (sorted keys, ISO dates)."""
    return _encoder.encode(
        {
            "birth": evidence.birth.isoformat(),
            "employment": evidence.employment,
            "stays": [
                [s.start.isoformat(), s.end.isoformat() if s.end else ""] for s in evidence.stays
            ],
            "wallet": evidence.wallet,
        }
    )


def new_salt() -> str:
    return secrets.token_hex(16)


def evidence_hash(evidence: Evidence, salt: str) -> str:
    """SHA-256 over the salt and the canonical evidence (64 hex), as the chain keeps it.
    The random salt per decision keeps a birth date from being guessed from the hash."""
    return hashlib.sha256(_HASH_PREFIX + bytes.fromhex(salt) + canonical(evidence)).hexdigest()
