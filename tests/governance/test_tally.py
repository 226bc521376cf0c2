"""Civil Code art. 278 arithmetic: hand-made edge cases and properties of the tally."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.governance import tally
from portal.governance.models import VoteKind
from portal.governance.tally import EligibleUnit, OptionSpec

YES_NO = [
    OptionSpec("o1", "同意", True),
    OptionSpec("o2", "反对", False),
    OptionSpec("o3", "弃权", False),
]


def units(*areas: str) -> list[EligibleUnit]:
    return [EligibleUnit(i + 1, Decimal(a), i + 1) for i, a in enumerate(areas)]


def test_exactly_two_thirds_of_area_and_owners_is_a_quorum() -> None:
    eligible = units("100.00", "100.00", "100.00")
    result = tally.compute(
        kind=VoteKind.ORDINARY, eligible=eligible, options=YES_NO, ballots={1: "o1", 2: "o1"}
    )
    assert result.valid
    assert result.area_participation == Fraction(2, 3)
    assert result.passed


def test_one_unit_short_of_two_thirds_is_no_quorum() -> None:
    eligible = units(*["90.00"] * 9)  # 6 of 9 is exactly 2/3; 5 is one short
    ballots = dict.fromkeys(range(1, 6), "o1")
    result = tally.compute(
        kind=VoteKind.ORDINARY, eligible=eligible, options=YES_NO, ballots=ballots
    )
    assert not result.valid
    assert not result.passed
    ballots[6] = "o1"
    assert tally.compute(
        kind=VoteKind.ORDINARY, eligible=eligible, options=YES_NO, ballots=ballots
    ).valid


def test_area_short_by_one_hundredth_of_a_square_metre_fails_the_quorum() -> None:
    # 200.00 of 300.01 m² is just under 2/3 although 2 of 3 owners took part.
    eligible = units("100.00", "100.00", "100.01")
    result = tally.compute(
        kind=VoteKind.ORDINARY, eligible=eligible, options=YES_NO, ballots={1: "o1", 2: "o1"}
    )
    assert not result.valid
    assert tally.ratio_text(result.headcount_participation) == "0.6667"


def test_ordinary_needs_more_than_half_not_exactly_half() -> None:
    eligible = units("100.00", "100.00", "100.00", "100.00")
    half = tally.compute(
        kind=VoteKind.ORDINARY,
        eligible=eligible,
        options=YES_NO,
        ballots={1: "o1", 2: "o1", 3: "o2", 4: "o3"},
    )
    assert half.valid
    assert not half.passed
    more = tally.compute(
        kind=VoteKind.ORDINARY,
        eligible=eligible,
        options=YES_NO,
        ballots={1: "o1", 2: "o1", 3: "o1", 4: "o2"},
    )
    assert more.passed


def test_major_needs_three_quarters_of_both() -> None:
    eligible = units("100.00", "100.00", "100.00", "100.00")
    exactly = tally.compute(
        kind=VoteKind.MAJOR,
        eligible=eligible,
        options=YES_NO,
        ballots={1: "o1", 2: "o1", 3: "o1", 4: "o2"},
    )
    assert exactly.passed  # 3/4 is enough ("四分之三以上" includes the bound)
    # Big flats: 3/4 of the area but only 2 of 4 owners → fails the headcount.
    big = units("300.00", "300.00", "100.00", "100.00")
    result = tally.compute(
        kind=VoteKind.MAJOR,
        eligible=big,
        options=YES_NO,
        ballots={1: "o1", 2: "o1", 3: "o2", 4: "o2"},
    )
    assert result.valid
    assert not result.passed
    assert result.options[0].area_m2 == Decimal("600.00")


def test_co_owners_are_one_owner_and_an_owner_of_several_units_is_one() -> None:
    keys = tally.person_keys({10: {1, 2}, 11: {3}, 12: {3}, 13: {4}, 14: set(), 15: set()})
    assert keys[10] == 10  # co-owners 1 and 2: one person
    assert keys[11] == keys[12] == 11  # owner 3 of two units: one person
    assert keys[14] == keys[15] == 14  # unsold units: the developer, one person
    assert len(set(keys.values())) == 4
    eligible = [EligibleUnit(uid, Decimal("80.00"), key) for uid, key in keys.items()]
    result = tally.compute(
        kind=VoteKind.ORDINARY,
        eligible=eligible,
        options=YES_NO,
        ballots={10: "o1", 11: "o1", 12: "o1", 13: "o2"},
    )
    assert result.eligible_persons == 4
    assert result.persons == 3
    assert result.units == 4
    assert result.options[0].units == 3
    assert result.options[0].persons == 2
    assert result.valid
    assert result.passed


def test_an_owner_whose_units_vote_differently_backs_no_option_by_headcount() -> None:
    eligible = [EligibleUnit(1, Decimal("90.00"), 1), EligibleUnit(2, Decimal("90.00"), 1)]
    result = tally.compute(
        kind=VoteKind.ORDINARY, eligible=eligible, options=YES_NO, ballots={1: "o1", 2: "o2"}
    )
    assert result.persons == 1
    assert [o.persons for o in result.options] == [0, 0, 0]
    assert not result.passed


def test_ballots_of_units_not_eligible_are_ignored() -> None:
    result = tally.compute(
        kind=VoteKind.ORDINARY, eligible=units("90.00"), options=YES_NO, ballots={99: "o1"}
    )
    assert result.units == 0
    assert not result.valid


def test_nobody_eligible_is_never_valid() -> None:
    result = tally.compute(kind=VoteKind.ORDINARY, eligible=[], options=YES_NO, ballots={})
    assert not result.valid
    assert not result.passed


# Areas in hundredths of a m² (as Unit.area_m2 stores them), built from integers: fast to draw.
AREAS = st.integers(min_value=1, max_value=50_000).map(lambda n: Decimal(n).scaleb(-2))
PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def elections(draw: st.DrawFn) -> tuple[list[EligibleUnit], dict[int, str], str]:
    n = draw(st.integers(min_value=1, max_value=30))
    persons = draw(st.integers(min_value=1, max_value=n))
    eligible = [
        EligibleUnit(i, draw(AREAS), draw(st.integers(min_value=0, max_value=persons - 1)))
        for i in range(n)
    ]
    ballots = draw(
        st.dictionaries(
            st.integers(min_value=0, max_value=n + 3), st.sampled_from(["o1", "o2", "o3"])
        )
    )
    kind = draw(st.sampled_from([VoteKind.ORDINARY, VoteKind.MAJOR]))
    return eligible, ballots, kind


@PROPERTY
@given(elections())
def test_tally_properties(case: tuple[list[EligibleUnit], dict[int, str], str]) -> None:
    eligible, ballots, kind = case
    result = tally.compute(kind=kind, eligible=eligible, options=YES_NO, ballots=ballots)
    counted = {u: c for u, c in ballots.items() if u < len(eligible)}
    # Every eligible ballot counts exactly once, in units and in area.
    assert result.units == len(counted) == sum(o.units for o in result.options)
    assert result.area_m2 == sum((eligible[u].area_m2 for u in counted), Decimal("0"))
    assert result.area_m2 == sum((o.area_m2 for o in result.options), Decimal("0"))
    assert sum(o.persons for o in result.options) <= result.persons <= result.eligible_persons
    assert result.area_m2 <= result.eligible_area_m2
    # The decision is the exact rule, recomputed with fractions.
    area = Fraction(result.area_m2) / Fraction(result.eligible_area_m2)
    heads = Fraction(result.persons, result.eligible_persons)
    assert result.valid == (area >= Fraction(2, 3) and heads >= Fraction(2, 3))
    yes = result.options[0]
    if result.valid:
        a = Fraction(yes.area_m2) / Fraction(result.area_m2)
        h = Fraction(yes.persons, result.persons)
        need = (
            (a >= Fraction(3, 4) and h >= Fraction(3, 4))
            if kind == VoteKind.MAJOR
            else (a > Fraction(1, 2) and h > Fraction(1, 2))
        )
        assert result.passed == need
    else:
        assert not result.passed
    # Only an approving option can carry the vote.
    assert not result.options[1].passed
    assert not result.options[2].passed


@PROPERTY
@given(elections())
def test_a_changed_ballot_replaces_the_first(
    case: tuple[list[EligibleUnit], dict[int, str], str],
) -> None:
    eligible, ballots, kind = case
    changed = dict(ballots)
    changed[0] = "o2"  # unit 0 votes again: still one ballot
    result = tally.compute(kind=kind, eligible=eligible, options=YES_NO, ballots=changed)
    assert result.units == len({u for u in changed if u < len(eligible)})
