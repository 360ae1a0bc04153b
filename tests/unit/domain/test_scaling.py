"""``quantities.Scaling``: a namespace quota squeezed into an envelope, floored to the unit, in integers.

Its answer must be exactly ``floor_to_step(Fraction(value) × numerator / denominator, step)`` (the
Fraction path it replaced, used here as the independent oracle), down to the Decimal's exponent.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import example, given
from hypothesis import strategies as st

from dctenant.domain import quantities

amounts = st.decimals(min_value=0, max_value=10**18, places=3, allow_nan=False, allow_infinity=False)
positive = st.decimals(min_value=Decimal("0.001"), max_value=10**18, places=3, allow_nan=False,
                       allow_infinity=False)
steps = st.sampled_from([Decimal("0.001"), Decimal(1), Decimal(1048576), Decimal(1000000), Decimal("0.5")])


def test_hand_computed_cases() -> None:
    # 3 GiB of a 4 GiB total squeezed into a 2 GiB envelope: 1.5 GiB = 1536 MiB exactly.
    mib = Decimal(1048576)
    squeeze = quantities.Scaling(numerator=Decimal(2 * 1024**3), denominator=Decimal(4 * 1024**3), step=mib)
    assert squeeze.floor(Decimal(3 * 1024**3)) == 1536 * mib
    # 1 cpu of 3 into an envelope of 1: 1/3 cpu = 333.33… millicores, floored to 0.333.
    third = quantities.Scaling(numerator=Decimal(1), denominator=Decimal(3), step=Decimal("0.001"))
    assert str(third.floor(Decimal(1))) == "0.333"
    # Exactly on a step stays there (never one below), and zero stays zero.
    assert third.floor(Decimal(3)) == Decimal(1) and third.floor(Decimal(0)) == 0


@given(value=amounts, numerator=amounts, denominator=positive, step=steps)
@example(value=Decimal(1099511627776), numerator=Decimal(7), denominator=Decimal(7), step=Decimal(1048576))
@example(value=Decimal("0.001"), numerator=Decimal(1), denominator=Decimal(10**18), step=Decimal("0.001"))
def test_equals_the_fraction_path(value: Decimal, numerator: Decimal, denominator: Decimal, step: Decimal) -> None:
    got = quantities.Scaling(numerator=numerator, denominator=denominator, step=step).floor(value)
    expected = quantities.floor_to_step(Fraction(value) * Fraction(numerator) / Fraction(denominator), step)
    assert got == expected and str(got) == str(expected)
