"""engine.chaining.canonical: the one JSON spelling of every value type the ledger records.

Expected texts are written out by hand from the rules in docs/audit.md: sorted keys, no spaces,
decimals as plain strings without exponent or trailing zeros (and never "-0"), times in UTC with
microseconds and ``Z``, enums as their value, dataclasses as objects of their fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from decimal import Decimal

import pytest

from dctenant.engine import chaining


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Pair:
    b: Decimal
    a: Colour


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("1.50"), '"1.5"'),
    (Decimal("1E+3"), '"1000"'),
    (Decimal("-0"), '"0"'),
    (Decimal("0E-7"), '"0"'),
    (Decimal("-2.500"), '"-2.5"'),
    (dt.datetime(2026, 11, 27, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=3, minutes=30))),
     '"2026-11-27T08:00:00.000000Z"'),
    (dt.date(2026, 11, 27), '"2026-11-27"'),
    (Colour.RED, '"red"'),
    (Pair(b=Decimal("4.0"), a=Colour.RED), '{"a":"red","b":"4"}'),
    ({"z": 1, "y": [Decimal("0.10"), None, True]}, '{"y":["0.1",null,true],"z":1}'),
    (frozenset({"b", "a"}), '["a","b"]'),
])
def test_each_value_type_has_one_spelling(value: object, text: str) -> None:
    assert chaining.canonical(value) == text


def test_a_dataclass_class_itself_is_not_a_value() -> None:
    with pytest.raises(TypeError, match="cannot record a type"):
        chaining.canonical(Pair)
