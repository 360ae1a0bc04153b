"""Tests of dctenant.domain.quantities: exact parsing, helpful rejections and canonical formatting."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dctenant.domain import quantities
from dctenant.domain.quantities import Bandwidth, Quantity, QuantityError

MAX = Decimal(2**63 * 1000)
DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
BANDWIDTH = {"bps": 0, "Kbps": 3, "kbps": 3, "Mbps": 6, "Gbps": 9, "Tbps": 12, "Pbps": 15}
CANONICAL = re.compile(r"(0|[1-9][0-9]*)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
CANONICAL_BANDWIDTH = re.compile(r"(0|[1-9][0-9]*)(bps|Kbps|Mbps|Gbps|Tbps|Pbps)")
# Enough digits to write any accepted value in any unit exactly (see the module's own context).
EXACT = decimal.Context(prec=200, traps=[decimal.Inexact, decimal.InvalidOperation])


def plain(value: Decimal) -> str:
    """A Decimal as positional text, never scientific notation."""
    return format(value, "f")


# ---------------------------------------------------------------------------------------------
# Quantity: examples


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [
        ("0", Decimal(0), "0"),
        ("0Gi", Decimal(0), "0"),
        ("0.0m", Decimal(0), "0"),
        ("1", Decimal(1), "1"),
        ("500m", Decimal("0.5"), "500m"),
        ("0.5", Decimal("0.5"), "500m"),
        (".5", Decimal("0.5"), "500m"),
        ("1.", Decimal(1), "1"),
        ("0.25", Decimal("0.25"), "250m"),
        ("1n", Decimal("1e-9"), "1n"),
        ("1500n", Decimal("1.5e-6"), "1500n"),
        ("2u", Decimal("2e-6"), "2u"),
        ("1500", Decimal(1500), "1500"),
        ("1.5k", Decimal(1500), "1500"),
        ("3000", Decimal(3000), "3k"),
        ("1000", Decimal(1000), "1k"),
        ("1k", Decimal(1000), "1k"),
        ("1e3", Decimal(1000), "1k"),
        ("1E3", Decimal(1000), "1k"),
        ("1e+3", Decimal(1000), "1k"),
        ("1e-3", Decimal("0.001"), "1m"),
        ("1E6", Decimal(10**6), "1M"),
        ("1E", Decimal(10**18), "1E"),
        ("2G", Decimal(2 * 10**9), "2G"),
        ("1024", Decimal(1024), "1Ki"),
        ("1Ki", Decimal(1024), "1Ki"),
        ("1Mi", Decimal(2**20), "1Mi"),
        ("1Gi", Decimal(2**30), "1Gi"),
        ("1.5Gi", Decimal(3 * 2**29), "1536Mi"),
        ("0.5Ki", Decimal(512), "512"),
        ("2048000", Decimal(2048000), "2048k"),
        ("2000Ki", Decimal(2048000), "2048k"),
        ("1024000", Decimal(1024000), "1024k"),
        ("4096k", Decimal(4096000), "4096k"),
        ("1000Mi", Decimal(2**20 * 1000), "1000Mi"),
        ("8Ei", Decimal(2**63), "8Ei"),
        ("8000Ei", MAX, "8000Ei"),
        ("9223372036854775808k", MAX, "8000Ei"),
        ("0.000000000000000000867361737988403547205962240695953369140625Ei", Decimal(1), "1"),
    ],
)
def test_quantity_examples(text: str, value: Decimal, canonical: str) -> None:
    assert Quantity.parse(text) == value
    assert Quantity.format(Quantity.parse(text)) == canonical
    assert Quantity.format(value) == canonical


def test_canonical_rule_examples_from_the_docstring() -> None:
    assert [Quantity.format(Decimal(v)) for v in ("1000", "1024", "2048000", "1500", "3000", "0.25")] == [
        "1k",
        "1Ki",
        "2048k",
        "1500",
        "3k",
        "250m",
    ]
    assert Quantity.format(Quantity.parse("1.5Gi")) == "1536Mi"


def test_quantity_accepts_int_and_decimal() -> None:
    assert Quantity.parse(0) == 0
    assert Quantity.parse(1024) == 1024
    assert Quantity.parse(Decimal("0.5")) == Decimal("0.5")
    assert Quantity.parse(Decimal("-0")) == 0
    assert not Quantity.parse(Decimal("-0")).is_signed()
    assert Quantity.format(Decimal("1E+3")) == "1k"
    assert Quantity.format(2048) == "2Ki"  # type: ignore[arg-type]  # ints are accepted at run time


def test_parse_returns_plain_decimals() -> None:
    assert str(Quantity.parse("1k")) == "1000"
    assert str(Quantity.parse("1.50")) == "1.5"
    assert Quantity.parse("1Gi").as_tuple().exponent == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10GB", ['"GB" is not a Kubernetes unit', 'write "10G"', "10×10^9 bytes, decimal", '"10Gi"']),
        ("10gi", ["case-sensitive", 'write "10Gi"']),
        ("10kb", ['write "10k"', '"10Ki"']),
        ("10KB", ['write "10k"', '"10Ki"']),
        ("10K", ["case-sensitive", 'write "10k"', '"10Ki"']),
        ("10g", ['write "10G"', '"10Gi"']),
        ("10KiB", ['write "10Ki"']),
        ("10B", ['write "10"']),
        ("5 Gi", ["spaces are not allowed", 'write "5Gi"']),
        (" 5Gi", ["spaces are not allowed", 'write "5Gi"']),
        ("5 gi", ["spaces are not allowed", 'write "5Gi"']),
        ("-1", ["negative values are not allowed"]),
        ("-1Gi", ["negative"]),
        ("-0", ["a sign is not allowed", 'write "0"']),
        ("+1", ['a leading "+" is not allowed', 'write "1"']),
        ("+1gi", ['a leading "+"', 'write "1Gi"']),
        ("NaN", ["not a finite number"]),
        ("nan", ["not a finite number"]),
        ("inf", ["not a finite number"]),
        ("-Infinity", ["not a finite number"]),
        ("1e400", ["too large", "smaller"]),
        ("1e99999999999999999999999", ["too large"]),
        ("8001Ei", ["too large", '"8000Ei"']),
        ("99999999999999999999999", ["too large"]),
        ("", ["it is empty", '"1Gi"']),
        ("   ", ["it is empty"]),
        ("1e-10", ["finer than 1n", 'write "1n"']),
        ("0.5n", ["finer than 1n", 'write "1n"']),
        ("1e-400", ["finer than 1n", 'write "1n"']),
        ("1.5.2", ["not a well-formed number"]),
        ("1e3.5", ["not a well-formed number"]),
        ("Gi", ["does not start with a number", 'write "1Gi"']),
        ("x", ["does not start with a number"]),
        ("1x", ['"x" is not a unit', "Ki"]),
        ("10i", ['"i" is not a unit']),
        ("١", ["does not start with a number"]),
        ("1Gi\n", ["spaces are not allowed", 'write "1Gi"']),
    ],
)
def test_quantity_rejections_explain_and_suggest(text: str, expected: list[str]) -> None:
    with pytest.raises(QuantityError) as caught:
        Quantity.parse(text)
    message = str(caught.value)
    assert message.startswith(f'invalid quantity "{text}": ')
    for fragment in expected:
        assert fragment in message
    if caught.value.hint is not None:
        assert message.endswith(caught.value.hint)


def test_quantity_error_is_a_value_error_with_a_hint() -> None:
    with pytest.raises(ValueError, match="10Gi") as caught:
        Quantity.parse("10GB")
    assert isinstance(caught.value, QuantityError)
    assert caught.value.hint == 'write "10G" (10×10^9 bytes, decimal) or "10Gi" (10×2^30 bytes, binary)'
    assert str(caught.value) == f'invalid quantity "10GB": "GB" is not a Kubernetes unit; {caught.value.hint}'
    assert QuantityError("plain").hint is None
    assert str(QuantityError("plain")) == "plain"


def test_suggestions_are_only_given_when_valid() -> None:
    with pytest.raises(QuantityError) as caught:
        Quantity.parse("99999999999999999999999GB")
    assert caught.value.hint is None


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        1.5,
        None,
        b"1Gi",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        -1,
        Decimal("-0.5"),
        Decimal("1e-10"),
        Decimal("1e400"),
        2**63 * 1000 + 1,
    ],
)
def test_quantity_rejects_bad_non_text(value: object) -> None:
    with pytest.raises(QuantityError, match="invalid quantity"):
        Quantity.parse(value)  # type: ignore[arg-type]
    with pytest.raises(QuantityError, match="invalid quantity"):
        Quantity.format(value)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Quantity: properties

# Generated values that the module must accept: integers, scaled integers, millis, nanos and
# (fractional) binary multiples, always within the limit of 2^63×1000.
quantity_values = st.one_of(
    st.integers(0, 2**63 * 1000).map(Decimal),
    st.builds(lambda n, k: Decimal(n).scaleb(k), st.integers(0, 10**12), st.integers(-9, 9)),
    st.integers(0, 10**15).map(lambda n: Decimal(n).scaleb(-3)),
    st.integers(0, 10**21).map(lambda n: Decimal(n).scaleb(-9)),
    st.builds(lambda n, p: Decimal(n * 2**p), st.integers(0, 8000), st.integers(0, 60)),
    st.builds(lambda n, p: Decimal(n * 2**p) / 2, st.integers(0, 8000), st.integers(1, 60)),
).filter(lambda v: v <= MAX)


def spellings(value: Decimal) -> list[str]:
    """Every way to write value with each suffix and as an exponent, all exact."""
    with decimal.localcontext(EXACT):
        out = [f"{plain(value.scaleb(-p))}{s}" for s, p in DECIMAL_SI.items()]
        out += [f"{plain(value / 2**p)}{s}" for s, p in BINARY_SI.items()]
        out += [f"{plain(value.scaleb(-p))}e{p}" for p in (-9, -3, 3, 6, 18)]
    return out


@settings(deadline=None)
@given(quantity_values)
def test_quantity_round_trip(value: Decimal) -> None:
    text = Quantity.format(value)
    assert CANONICAL.fullmatch(text), text
    assert Quantity.parse(text) == value


@settings(deadline=None)
@given(quantity_values)
def test_every_spelling_of_a_value_formats_identically(value: Decimal) -> None:
    canonical = Quantity.format(value)
    for text in spellings(value):
        assert Quantity.parse(text) == value, text
        assert Quantity.format(Quantity.parse(text)) == canonical, text


@settings(deadline=None)
@given(quantity_values)
def test_format_follows_the_canonical_rule(value: Decimal) -> None:
    text = Quantity.format(value)
    match = CANONICAL.fullmatch(text)
    assert match is not None
    mantissa, suffix = int(match[1]), match[2] or ""
    if value == 0:
        assert text == "0"
    elif suffix in BINARY_SI:
        # Binary: the largest binary suffix, and no decimal spelling is shorter.
        assert suffix == "Ei" or mantissa % 1024 != 0
        assert value == value.to_integral_value() and value % 1024 == 0
    else:
        # Decimal: the largest decimal suffix with an integer mantissa.
        assert suffix == "E" or mantissa % 1000 != 0
        if value == value.to_integral_value() and value % 1024 == 0:
            whole = int(value)
            power = max(p for p in BINARY_SI.values() if whole % 2**p == 0)
            assert len(text) < len(str(whole >> power)) + 2


@settings(deadline=None)
@given(
    st.from_regex(r"[0-9]{1,8}(\.[0-9]{0,12})?", fullmatch=True),
    st.sampled_from([*DECIMAL_SI, *BINARY_SI, "e-6", "e0", "e3", "E9", "e+2"]),
)
def test_format_of_parse_is_a_fixed_point(number: str, suffix: str) -> None:
    try:
        value = Quantity.parse(number + suffix)
    except QuantityError as error:
        assume(False)
        raise AssertionError from error  # pragma: no cover - assume() does not return
    text = Quantity.format(value)
    assert Quantity.format(Quantity.parse(text)) == text
    assert Quantity.parse(text) == value


@settings(deadline=None)
@given(st.lists(st.sampled_from([*"0123456789.eE+-KMGTPEiInumkbB%/ps \t٣", "Gi", "Gbps", "99999"])).map("".join))
def test_parsers_only_ever_raise_quantity_error(text: str) -> None:
    for parse in (Quantity.parse, Bandwidth.parse, quantities.parse_ratio, quantities.parse_percent):
        try:
            value = parse(text)
        except QuantityError as error:
            assert str(error).startswith("invalid ")
        else:
            assert value.is_finite() and value >= 0


# ---------------------------------------------------------------------------------------------
# Bandwidth


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [
        ("0", Decimal(0), "0bps"),
        ("0bps", Decimal(0), "0bps"),
        ("0Gbps", Decimal(0), "0bps"),
        ("999", Decimal(999), "999bps"),
        ("999bps", Decimal(999), "999bps"),
        ("1000bps", Decimal(1000), "1Kbps"),
        ("100kbps", Decimal(100_000), "100Kbps"),
        ("100Kbps", Decimal(100_000), "100Kbps"),
        ("1.5Kbps", Decimal(1500), "1500bps"),
        ("40Gbps", Decimal(40 * 10**9), "40Gbps"),
        ("40000Mbps", Decimal(40 * 10**9), "40Gbps"),
        ("1.2Tbps", Decimal(12 * 10**11), "1200Gbps"),
        ("2Pbps", Decimal(2 * 10**15), "2Pbps"),
        ("3000Pbps", Decimal(3 * 10**18), "3000Pbps"),
        ("1.0", Decimal(1), "1bps"),
    ],
)
def test_bandwidth_examples(text: str, value: Decimal, canonical: str) -> None:
    assert Bandwidth.parse(text) == value
    assert Bandwidth.format(value) == canonical
    assert Bandwidth.parse(canonical) == value


def test_bandwidth_accepts_int_and_decimal() -> None:
    assert Bandwidth.parse(10**9) == 10**9
    assert Bandwidth.parse(Decimal("1E+9")) == 10**9
    assert Bandwidth.format(Decimal(10**9)) == "1Gbps"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10GB/s", ["bytes", "bits per second", 'write "80Gbps"']),
        ("10GBps", ["bytes", 'write "80Gbps"']),
        ("10MB", ["bytes", 'write "80Mbps"']),
        ("10MBps", ['write "80Mbps"']),
        ("1.5GB/s", ['write "12Gbps"']),
        ("10Gib", ["decimal units, not binary", 'write "10Gbps"']),
        ("10Gi", ["decimal units, not binary", 'write "10Gbps"']),
        ("10GiB/s", ['write "80Gbps"']),
        ("10 Gbps", ["spaces are not allowed", 'write "10Gbps"']),
        ("10 gbps", ["spaces are not allowed", 'write "10Gbps"']),
        ("10gbps", ["case-sensitive", 'write "10Gbps"']),
        ("10MBPS", ['write "10Mbps"']),
        ("10G", ['write "10Gbps"']),
        ("10Gb/s", ['write "10Gbps"']),
        ("-5Mbps", ["negative values are not allowed"]),
        ("+5Mbps", ['a leading "+"', 'write "5Mbps"']),
        ("NaN", ["not a finite number"]),
        ("inf", ["not a finite number"]),
        ("", ["it is empty", '"40Gbps"']),
        ("0.5bps", ["not a whole number of bits per second", 'write "1bps"']),
        ("1.5", ["not a whole number", 'write "2bps"']),
        ("1.0000001Kbps", ["not a whole number"]),
        ("10Ebps", ['"Ebps" is not a bandwidth unit', "Gbps"]),
        ("1e9", ["not a number followed by a unit"]),
        ("Gbps", ['write "1Gbps"']),
        ("1.5.2Gbps", ["not a number followed by a unit"]),
        ("99999999999999999999999Gbps", ["too large"]),
    ],
)
def test_bandwidth_rejections_explain_and_suggest(text: str, expected: list[str]) -> None:
    with pytest.raises(QuantityError) as caught:
        Bandwidth.parse(text)
    message = str(caught.value)
    assert message.startswith(f'invalid bandwidth "{text}": ')
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize("value", [True, 1.5, Decimal("NaN"), -1, Decimal("0.5"), Decimal("1e400")])
def test_bandwidth_rejects_bad_non_text(value: object) -> None:
    with pytest.raises(QuantityError, match="invalid bandwidth"):
        Bandwidth.parse(value)  # type: ignore[arg-type]
    with pytest.raises(QuantityError, match="invalid bandwidth"):
        Bandwidth.format(value)  # type: ignore[arg-type]


bandwidth_values = st.one_of(
    st.integers(0, 2**63 * 1000),
    st.builds(lambda n, k: n * 10**k, st.integers(0, 10**6), st.integers(0, 15)),
).map(Decimal)


@settings(deadline=None)
@given(bandwidth_values)
def test_bandwidth_round_trip_and_spellings(value: Decimal) -> None:
    canonical = Bandwidth.format(value)
    assert CANONICAL_BANDWIDTH.fullmatch(canonical), canonical
    assert Bandwidth.parse(canonical) == value
    assert Bandwidth.format(Bandwidth.parse(canonical)) == canonical
    for unit, power in BANDWIDTH.items():
        text = f"{plain(value.scaleb(-power, EXACT))}{unit}"
        assert Bandwidth.parse(text) == value, text
        assert Bandwidth.format(Bandwidth.parse(text)) == canonical, text


# ---------------------------------------------------------------------------------------------
# Ratios and percentages


@pytest.mark.parametrize(
    ("given_", "value"),
    [
        ("2", Decimal(2)),
        (2, Decimal(2)),
        (1.5, Decimal("1.5")),
        (0.1, Decimal("0.1")),
        (1e-05, Decimal("0.00001")),
        ("150%", Decimal("1.5")),
        ("0%", Decimal(0)),
        ("0", Decimal(0)),
        ("0.75", Decimal("0.75")),
        (".5", Decimal("0.5")),
        ("1e3", Decimal(1000)),
        (Decimal("1.25"), Decimal("1.25")),
        (Decimal("-0"), Decimal(0)),
    ],
)
def test_parse_ratio(given_: str | int | float | Decimal, value: Decimal) -> None:
    assert quantities.parse_ratio(given_) == value
    assert not quantities.parse_ratio(given_).is_signed()


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (Decimal("NaN"), "not a finite number"),
        (Decimal("-Infinity"), "not a finite number"),
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        (-1.5, "negative"),
        (-1, "negative"),
        ("-1", "negative"),
        (Decimal("-0.1"), "negative"),
        (True, "got bool"),
        (None, "got NoneType"),
        ("", "empty"),
        ("abc", "not a number"),
        ("1.5x", "not a number"),
        ("1 %", 'write "1%"'),
        ("+2", 'write "2"'),
        ("1" * 150, "too many digits"),
    ],
)
def test_parse_ratio_rejects(given_: object, expected: str) -> None:
    with pytest.raises(QuantityError, match="invalid ratio") as caught:
        quantities.parse_ratio(given_)  # type: ignore[arg-type]
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5%", Decimal("0.05")),
        ("0%", Decimal(0)),
        ("100%", Decimal(1)),
        ("2.5%", Decimal("0.025")),
        ("100.0%", Decimal(1)),
        ("0.01%", Decimal("0.0001")),
        (".5%", Decimal("0.005")),
    ],
)
def test_parse_percent(text: str, value: Decimal) -> None:
    assert quantities.parse_percent(text) == value


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("5", ["must end with %", 'write "5%"']),
        ("0.05", ["must end with %", 'write "0.05%"']),
        ("101%", ["over 100%"]),
        ("100.5%", ["over 100%"]),
        ("-5%", ["negative"]),
        ("NaN%", ["not a number"]),
        ("nan", ["not a finite number"]),
        ("%", ["not a number"]),
        ("", ["empty", '"5%"']),
        ("5 %", ["spaces are not allowed", 'write "5%"']),
        (5, ["must be text ending in %", 'write "5%"']),
        (0.05, ["must be text ending in %"]),
        (True, ["must be text"]),
    ],
)
def test_parse_percent_rejects(given_: object, expected: list[str]) -> None:
    with pytest.raises(QuantityError, match="invalid percentage") as caught:
        quantities.parse_percent(given_)  # type: ignore[arg-type]
    for fragment in expected:
        assert fragment in str(caught.value)


@settings(deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 4))
def test_percent_and_ratio_agree(hundredths: int, places: int) -> None:
    number = Decimal(hundredths).scaleb(-places)
    ratio = quantities.parse_ratio(f"{plain(number)}%")
    assert ratio == number / 100
    if number <= 100:
        assert quantities.parse_percent(f"{plain(number)}%") == ratio


# -- boundaries that a mutation of the rules would move ---------------------------------------------------


def test_format_prefers_binary_when_the_decimal_spelling_is_not_strictly_shorter() -> None:
    # 10112000 = 10112k = 9875Ki: equal lengths, so the binary spelling wins ("strictly shorter" rule).
    assert Quantity.format(Decimal(10112000)) == "9875Ki"
    # 1024000 = 1024k (5 characters) vs 1000Ki (6): the decimal spelling is strictly shorter.
    assert Quantity.format(Decimal(1024000)) == "1024k"
    assert Quantity.format(Decimal(1024)) == "1Ki"


@pytest.mark.parametrize(("value", "step", "expected"), [
    (Decimal("0.0035"), Decimal("0.001"), Decimal("0.003")),  # half a step: down, not to even (0.004)
    (Decimal("0.0045"), Decimal("0.001"), Decimal("0.004")),  # half a step: down, not up
    (Decimal("0.004"), Decimal("0.001"), Decimal("0.004")),  # exactly a whole number of steps: unchanged
    (Decimal("0.0039999999999999999999999999999"), Decimal("0.001"), Decimal("0.003")),  # beyond 28 digits
    (Decimal(2**70) + Decimal("0.5"), Decimal(1), Decimal(2**70)),
    (Fraction(7, 3), Decimal("0.5"), Decimal("2")),  # a Fraction is floored without a rounded division
])
def test_floor_to_step(value: Decimal | Fraction, step: Decimal, expected: Decimal) -> None:
    assert quantities.floor_to_step(value, step) == expected
