"""The arithmetic of Civil Code art. 278, exact (areas are Decimal, ratios compared as integers).

Art. 278 (2021): a decision needs owners holding at least two thirds of the building area and
at least two thirds of the owners to take part. Items 6-8 (raising the maintenance fund,
rebuilding, changing the use of common parts or running a business with them) then need at
least three quarters of the participating area and of the participating owners; every other
matter more than half of both. Headcount: one unit is one owner, co-owners of a unit are one,
and an owner of several units is one (最高人民法院建筑物区分所有权解释 art. 9) — so units that
share an owner form one "person". Area counts per unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from portal.governance.models import VoteKind

RATIO_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class EligibleUnit:
    unit_id: int
    area_m2: Decimal
    person_key: int


@dataclass(frozen=True)
class OptionSpec:
    code: str
    label: str
    approves: bool


@dataclass
class OptionCount:
    code: str
    label: str
    approves: bool
    units: int = 0
    area_m2: Decimal = Decimal("0.00")
    persons: int = 0  # owners all of whose ballots chose this option
    passed: bool = False


@dataclass
class Tally:
    kind: str
    eligible_units: int
    eligible_persons: int
    eligible_area_m2: Decimal
    units: int
    persons: int
    area_m2: Decimal
    valid: bool
    passed: bool
    options: list[OptionCount] = field(default_factory=list)

    @property
    def area_participation(self) -> Fraction:
        return _fraction(self.area_m2, self.eligible_area_m2)

    @property
    def headcount_participation(self) -> Fraction:
        return (
            Fraction(self.persons, self.eligible_persons) if self.eligible_persons else Fraction(0)
        )


def _fraction(part: Decimal, whole: Decimal) -> Fraction:
    return Fraction(part) / Fraction(whole) if whole > 0 else Fraction(0)


def ratio_text(value: Fraction) -> str:
    """A ratio for display and JSON, to four places (the decision uses the exact value)."""
    return str(
        (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
            RATIO_PLACES, rounding=ROUND_HALF_UP
        )
    )


def quorum_met(*, area: Decimal, total_area: Decimal, persons: int, total_persons: int) -> bool:
    """At least 2/3 of the area and 2/3 of the owners took part (art. 278 para. 2)."""
    if total_area <= 0 or total_persons <= 0:
        return False
    return area * 3 >= total_area * 2 and persons * 3 >= total_persons * 2


def majority_met(
    *, kind: str, area: Decimal, part_area: Decimal, persons: int, part_persons: int
) -> bool:
    """> 1/2 (ordinary) or >= 3/4 (major) of the participating area and owners."""
    if part_area <= 0 or part_persons <= 0:
        return False
    if kind == VoteKind.MAJOR:
        return area * 4 >= part_area * 3 and persons * 4 >= part_persons * 3
    return area * 2 > part_area and persons * 2 > part_persons


def compute(
    *,
    kind: str,
    eligible: Iterable[EligibleUnit],
    options: Iterable[OptionSpec],
    ballots: Mapping[int, str],
) -> Tally:
    """Count the ballots (unit id → option code) of the eligible units; ignores any other."""
    units = {u.unit_id: u for u in eligible}
    specs = list(options)
    counts = {o.code: OptionCount(o.code, o.label, o.approves) for o in specs}
    persons_all = {u.person_key for u in units.values()}
    total_area = sum((u.area_m2 for u in units.values()), Decimal("0.00"))
    choices_of_person: dict[int, set[str]] = {}
    part_units = 0
    part_area = Decimal("0.00")
    for unit_id, code in ballots.items():
        unit = units.get(unit_id)
        if unit is None or code not in counts:
            continue
        part_units += 1
        part_area += unit.area_m2
        count = counts[code]
        count.units += 1
        count.area_m2 += unit.area_m2
        choices_of_person.setdefault(unit.person_key, set()).add(code)
    # An owner of several units who chose differently took part but backs no single option.
    for chosen in choices_of_person.values():
        if len(chosen) == 1:
            counts[next(iter(chosen))].persons += 1
    part_persons = len(choices_of_person)
    valid = quorum_met(
        area=part_area, total_area=total_area, persons=part_persons, total_persons=len(persons_all)
    )
    for count in counts.values():
        count.passed = (
            valid
            and count.approves
            and majority_met(
                kind=kind,
                area=count.area_m2,
                part_area=part_area,
                persons=count.persons,
                part_persons=part_persons,
            )
        )
    return Tally(
        kind=kind,
        eligible_units=len(units),
        eligible_persons=len(persons_all),
        eligible_area_m2=total_area,
        units=part_units,
        persons=part_persons,
        area_m2=part_area,
        valid=valid,
        passed=any(c.passed for c in counts.values()),
        options=[counts[o.code] for o in specs],
    )


def person_keys(owners_of_unit: Mapping[int, set[int]]) -> dict[int, int]:
    """Group units that share an owner (transitively) into persons: unit id → smallest unit id
    of its group. Units with no current owner (unsold, the developer's) form one person."""
    parent = {unit_id: unit_id for unit_id in owners_of_unit}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_unit_of_owner: dict[int, int] = {}
    unowned: int | None = None
    for unit_id in sorted(owners_of_unit):
        owners = owners_of_unit[unit_id]
        if not owners:
            if unowned is None:
                unowned = unit_id
            else:
                union(unowned, unit_id)
        for owner in owners:
            if owner in first_unit_of_owner:
                union(first_unit_of_owner[owner], unit_id)
            else:
                first_unit_of_owner[owner] = unit_id
    return {unit_id: find(unit_id) for unit_id in owners_of_unit}
