"""Kubernetes quantities, bandwidths and ratios as exact Decimals: the one place text becomes a number.

Quota files are written by people, and the numbers in them end up in ResourceQuota objects,
Prometheus rules and reports that must all agree on the value. So every spelling such as "1.5Gi" or
"40Gbps" is parsed here, and every number is spelled here again. Quantities follow the Kubernetes
``resource.Quantity`` grammar except that a sign is never allowed. Arithmetic is Decimal only (a
float would turn 0.1 CPU into 0.1000000000000000055), and the mistakes people commonly make
("10GB", "10gi", "5 Gi", "10GB/s") are rejected with the spelling they probably meant.

Canonical spelling, so that equal values always print identically and parse back exactly:

* ``Quantity.format``: zero is ``"0"``. An integer divisible by 1024 takes the largest binary suffix
  (Ki … Ei) that leaves an integer mantissa, unless the decimal spelling below is strictly shorter
  (1024 → "1Ki", 1.5Gi → "1536Mi", 2048000 → "2048k" rather than "2000Ki"). Every other value takes
  the largest decimal suffix (n, u, m, "", k, M, G, T, P, E) that leaves an integer mantissa
  (1500 → "1500", 3000 → "3k", 0.25 → "250m"). Never scientific notation.
* ``Bandwidth.format``: the largest of bps, Kbps, Mbps, Gbps, Tbps, Pbps that leaves an integer
  mantissa (999 → "999bps", 1.2Tbps → "1200Gbps", 0 → "0bps").
"""

from __future__ import annotations

import array
import dataclasses
import decimal
import fractions
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import NoReturn

# A hundred digits hold every accepted spelling exactly: a value has at most 31 digits (2^63×1000
# in steps of 10^-9), and its mantissa in Ei at most 42 more (5^60). Nothing here may silently round.
_CTX = decimal.Context(prec=100, traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
_MAX = Decimal(2**63 * 1000)
_NANO = Decimal("1e-9")
_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BANDWIDTH = {"bps": 0, "Kbps": 3, "Mbps": 6, "Gbps": 9, "Tbps": 12, "Pbps": 15}
_PREFIX = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}  # lower-cased SI prefix -> 1000^n
_EXAMPLE = {
    "quantity": 'write a number with an optional unit, such as "500m" or "1Gi"',
    "bandwidth": 'write a bit rate such as "40Gbps"',
    "ratio": 'write a number such as "1.5" or "150%"',
    "percentage": 'write a percentage from "0%" to "100%", such as "5%"',
}

_NUM = r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_QUANTITY = re.compile(_NUM + r"(?:[eE](?P<exp>[+-]?[0-9]+)|(?P<suffix>[KMGTPE]i|[numkMGTPE]?))", re.ASCII)
_LEADING_NUMBER = re.compile(_NUM + r"(?P<rest>.*)", re.ASCII | re.DOTALL)
_NON_FINITE = re.compile(r"[+-]?(?:s?nan|inf(?:inity)?)", re.IGNORECASE)
_BYTE_UNIT = re.compile(r"(?P<p>[kmgtpe]?)(?P<i>i?)(?P<b>b|bytes?)?", re.IGNORECASE)
_BANDWIDTH_TEXT = re.compile(_NUM + r"(?P<unit>[A-Za-z/]*)", re.ASCII)
_BW_BYTES = re.compile(r"(?P<p>[kKmMgGtTpP]?)(?:B|Bps|B/s|bytes?(?:/s)?)")
_BW_BINARY = re.compile(r"(?P<p>[kKmMgGtTpP])i(?P<u>b|bps|b/s|bits?/s|B|Bps|B/s)?")
_BW_BITS = re.compile(r"(?P<p>[kmgtp]?)(?:b|bps|b/s|bits?(?:/s)?)?", re.IGNORECASE)
_RATIO = re.compile(_NUM + r"(?:[eE](?P<exp>[+-]?[0-9]{1,4}))?(?P<pct>%?)", re.ASCII)


class QuantityError(ValueError):
    """Invalid quantity; str(e) is a full message that includes a suggestion of the valid spelling
    where one exists."""

    hint: str | None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.hint = hint


def _error(kind: str, text: object, reason: str, hint: str | None = None) -> QuantityError:
    return QuantityError(f'invalid {kind} "{text}": {reason}', hint)


def _write(*candidates: tuple[str, str], parse: Callable[[str], Decimal]) -> str | None:
    """A hint naming those (spelling, note) candidates that really are valid, or None if none is."""
    valid = []
    for spelling, note in candidates:
        try:
            parse(spelling)
        except QuantityError:
            continue
        valid.append(f'"{spelling}" ({note})' if note else f'"{spelling}"')
    return f"write {' or '.join(valid)}" if valid else None


def _retry(kind: str, text: str, reason: str, candidate: str, parse: Callable[[str], Decimal]) -> NoReturn:
    """Rejects text, suggesting candidate if it is valid, or else whatever fixes candidate."""
    try:
        parse(candidate)
    except QuantityError as error:
        raise _error(kind, text, reason, error.hint) from None
    raise _error(kind, text, reason, f'write "{candidate}"')


def _precheck(kind: str, text: str, parse: Callable[[str], Decimal]) -> None:
    """Rejects the mistakes that every kind of number shares: empty, spaces, NaN/inf and signs."""
    if not text.strip():
        raise _error(kind, text, "it is empty", _EXAMPLE[kind])
    if _NON_FINITE.fullmatch(text.strip()):
        raise _error(kind, text, "it is not a finite number", _EXAMPLE[kind])
    if any(ch.isspace() for ch in text):
        _retry(kind, text, "spaces are not allowed", "".join(text.split()), parse)
    if text[0] == "+":
        _retry(kind, text, 'a leading "+" is not allowed', text.lstrip("+"), parse)
    if text[0] == "-":
        try:
            zero = parse(text.lstrip("+-")) == 0
        except QuantityError:
            zero = False
        if zero:
            raise _error(kind, text, "a sign is not allowed", f'write "{text.lstrip("+-")}"')
        raise _error(kind, text, "negative values are not allowed")


def _scale(num: str, power10: int = 0, power2: int = 0) -> tuple[Decimal | None, Decimal]:
    """num × 10^power10 × 2^power2: exactly (None if that needs over 100 digits), and rounded."""
    with decimal.localcontext(_CTX) as ctx:
        ctx.clear_flags()
        rounded = Decimal(num).scaleb(power10) * (1 << power2)
        return (None if ctx.flags[decimal.Inexact] else rounded), rounded


def _tidy(value: Decimal) -> Decimal:
    """The same value with the plainest exponent: integers as integers, fractions without trailing zeros."""
    value = value.copy_abs()  # only -0 can reach here with a sign
    if value.adjusted() < 50 and value == value.to_integral_value():
        return value.quantize(Decimal(1), context=_CTX)
    return value.normalize(_CTX)


def _bounded(kind: str, text: object, value: Decimal | None, approx: Decimal) -> Decimal:
    """Checks that a non-negative value fits a quantity (or bandwidth): not too large, not too fine."""
    if (approx if value is None else value) > _MAX:
        limit = '2^63×1000, "8000Ei"' if kind == "quantity" else "2^63×1000 bps"
        raise _error(kind, text, f"it is too large (the limit is {limit})", "use a smaller number or unit")
    fmt, quantum, fine = (
        (Quantity.format, _NANO, "finer than 1n (10^-9)")
        if kind == "quantity"
        else (Bandwidth.format, Decimal(1), "not a whole number of bits per second")
    )
    if value is None or _CTX.remainder(value, quantum):
        up = approx.quantize(quantum, rounding=decimal.ROUND_CEILING, context=_CTX)
        raise _error(kind, text, f"it is {fine}", f'write "{fmt(up)}" (rounded up)')
    return _tidy(value)


def _number(kind: str, value: object) -> Decimal:
    """Checks a value given as a number rather than text: a non-negative int or finite Decimal."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        reason = f"expected text, an int or a Decimal, got {type(value).__name__}"
        raise _error(kind, value, reason, _EXAMPLE[kind])
    number = Decimal(value)
    if not number.is_finite():
        raise _error(kind, value, "it is not a finite number", _EXAMPLE[kind])
    if number < 0:
        raise _error(kind, value, "negative values are not allowed")
    if kind in ("quantity", "bandwidth"):
        return _bounded(kind, value, number, number)
    return _tidy(number)


def _quantity_mistake(text: str) -> QuantityError:
    """Explains why text is not a quantity, suggesting what its writer most likely meant."""
    lead = _LEADING_NUMBER.fullmatch(text)
    if lead is None:
        hint = _write((f"1{text}", ""), parse=Quantity.parse) or _EXAMPLE["quantity"]
        return _error("quantity", text, "it does not start with a number", hint)
    num, rest = lead["num"], lead["rest"]
    unit = _BYTE_UNIT.fullmatch(rest)
    if rest[0] in ".0123456789" or (rest[0] in "eE" and rest[1:2] in tuple("+-.0123456789")):
        return _error("quantity", text, "it is not a well-formed number", _EXAMPLE["quantity"])
    if unit is None or (not unit["p"] and (unit["i"] or not unit["b"])):
        units = "n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei, or an exponent such as e3"
        return _error("quantity", text, f'"{rest}" is not a unit (use {units})')
    p = unit["p"].lower()
    if not p:
        return _error("quantity", text, f'"{rest}" is not a unit', f'write "{num}" (a plain number of bytes)')
    known = {s.lower() for s in [*_DECIMAL_SI, *_BINARY_SI]}
    reason = f'"{rest}" is not a unit' + (" (units are case-sensitive)" if rest.lower() in known else "")
    binary, dec = f"{num}{p.upper()}i", num + ("k" if p == "k" else p.upper())
    if unit["i"]:
        return _error("quantity", text, reason, _write((binary, ""), parse=Quantity.parse))
    noun = " bytes" if unit["b"] else ""
    n = _PREFIX[p]
    both = _write(
        (dec, f"{num}×10^{3 * n}{noun}, decimal"),
        (binary, f"{num}×2^{10 * n}{noun}, binary"),
        parse=Quantity.parse,
    )
    return _error("quantity", text, reason.replace("a unit", "a Kubernetes unit") if noun else reason, both)


def _bandwidth_mistake(text: str, num: str, unit: str) -> QuantityError:
    """Explains why unit is not a bandwidth unit, suggesting the bit rate its writer most likely meant."""

    def rate(prefix: str, factor: int) -> str | None:
        value = _scale(num, 3 * _PREFIX[prefix.lower()])[0]
        if value is None:
            return None
        return _write((Bandwidth.format(value * factor), ""), parse=Bandwidth.parse)

    if bytes_ := _BW_BYTES.fullmatch(unit):
        reason = f'"{unit}" is bytes; bandwidth is in bits per second'
        return _error("bandwidth", text, reason, rate(bytes_["p"], 8))
    if binary := _BW_BINARY.fullmatch(unit):
        factor = 8 if (binary["u"] or "").startswith("B") else 1
        reason = "bandwidth uses decimal units, not binary"
        return _error("bandwidth", text, reason, rate(binary["p"], factor))
    if bits := _BW_BITS.fullmatch(unit):
        case = " (units are case-sensitive)" if unit.lower() in {u.lower() for u in _BANDWIDTH} else ""
        return _error("bandwidth", text, f'"{unit}" is not a bandwidth unit{case}', rate(bits["p"], 1))
    return _error("bandwidth", text, f'"{unit}" is not a bandwidth unit (use {", ".join(_BANDWIDTH)})')


class Quantity:
    """Kubernetes quantities (cpu, memory, storage, GPUs): parse to Decimal, format canonically."""

    @staticmethod
    def parse(text: str | int | Decimal) -> Decimal:
        """The exact value of a non-negative Kubernetes quantity such as "500m", "1.5Gi" or "1e3"."""
        if not isinstance(text, str):
            return _number("quantity", text)
        _precheck("quantity", text, Quantity.parse)
        match = _QUANTITY.fullmatch(text)
        if match is None:
            raise _quantity_mistake(text)
        num, exp, suffix = match["num"], match["exp"], match["suffix"]
        if Decimal(num) == 0:
            return Decimal(0)
        if exp is not None:
            # No accepted value needs a six-digit exponent; clamping keeps int() and Decimal cheap.
            power = int(exp) if len(exp.lstrip("+-")) <= 5 else (-99999 if exp[0] == "-" else 99999)
            return _bounded("quantity", text, *_scale(num, power))
        if suffix in _BINARY_SI:
            return _bounded("quantity", text, *_scale(num, 0, _BINARY_SI[suffix]))
        return _bounded("quantity", text, *_scale(num, _DECIMAL_SI[suffix]))

    @staticmethod
    def format(value: Decimal) -> str:
        """The canonical spelling of value (see the module docstring for the rule)."""
        value = _number("quantity", value)
        if value == 0:
            return "0"
        with decimal.localcontext(_CTX):
            spelling = next(
                f"{int(value.scaleb(-power))}{suffix}"
                for suffix, power in reversed(_DECIMAL_SI.items())
                if value.scaleb(-power) == value.scaleb(-power).to_integral_value()
            )
        if value == value.to_integral_value() and int(value) % 1024 == 0:
            whole = int(value)
            power, suffix = max((p, s) for s, p in _BINARY_SI.items() if whole % 2**p == 0)
            binary = f"{whole >> power}{suffix}"
            spelling = spelling if len(spelling) < len(binary) else binary
        return spelling


class Bandwidth:
    """Network bit rates in bits per second (decimal units, bps … Pbps): parse and format canonically."""

    @staticmethod
    def parse(text: str | int | Decimal) -> Decimal:
        """Whole bits per second from "40Gbps", "1.2Tbps", "100kbps" or a plain number of bps."""
        if not isinstance(text, str):
            return _number("bandwidth", text)
        _precheck("bandwidth", text, Bandwidth.parse)
        match = _BANDWIDTH_TEXT.fullmatch(text)
        if match is None:
            lead = _LEADING_NUMBER.fullmatch(text)  # guessing a missing number only when there is none
            hint = (lead is None and _write((f"1{text}", ""), parse=Bandwidth.parse)) or _EXAMPLE["bandwidth"]
            raise _error("bandwidth", text, "it is not a number followed by a unit", hint)
        num, unit = match["num"], match["unit"]
        power = 0 if unit == "" else 3 if unit == "kbps" else _BANDWIDTH.get(unit)
        if power is None:
            raise _bandwidth_mistake(text, num, unit)
        return _bounded("bandwidth", text, *_scale(num, power))

    @staticmethod
    def format(value: Decimal) -> str:
        """The canonical spelling of a bit rate: the largest unit that leaves an integer mantissa."""
        whole = int(_number("bandwidth", value))
        if whole == 0:
            return "0bps"
        power, unit = max((p, u) for u, p in _BANDWIDTH.items() if whole % 10**p == 0)
        return f"{whole // 10**power}{unit}"


def floor_to_step(value: Decimal | fractions.Fraction, step: Decimal) -> Decimal:
    """``value`` rounded down to a whole number of ``step`` (a millicore, a MiB, an Mbit/s …), exactly.

    The one rounding rule for amounts handed to tenants or written into Kubernetes objects: never
    up, so a quota derived from an envelope or a measured rate can never exceed it. ``value`` may be
    a Fraction (a ratio of Decimals), so that no intermediate division rounds at Decimal's precision.
    """
    whole = math.floor(fractions.Fraction(value) / fractions.Fraction(step))
    return _CTX.multiply(Decimal(whole), step)


class Scaling:
    """Amounts multiplied by one exact ratio and floored to one step, in integer arithmetic.

    ``floor_to_step(value × numerator / denominator, step)`` for many values with the same ratio and
    step (a tenant's namespace quotas of one resource squeezed into its envelope): the ratio and the
    step are turned into integers once, and each value costs one integer multiply and division
    instead of four Fractions. ``numerator`` and ``denominator`` are non-negative, ``denominator``
    and ``step`` positive.
    """

    __slots__ = ("_over", "_step", "_under")

    def __init__(self, *, numerator: Decimal, denominator: Decimal, step: Decimal) -> None:
        top, top_below = numerator.as_integer_ratio()
        bottom, bottom_below = denominator.as_integer_ratio()
        step_top, step_below = step.as_integer_ratio()
        self._step = step
        # value × (top / top_below) / (bottom / bottom_below) / (step_top / step_below)
        self._over = top * bottom_below * step_below
        self._under = top_below * bottom * step_top

    def floor(self, value: Decimal) -> Decimal:
        """``value`` scaled and floored to the step: exactly ``floor_to_step``'s answer."""
        num, den = value.as_integer_ratio()
        return _CTX.multiply(Decimal((num * self._over) // (den * self._under)), self._step)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Numbers:
    """Amounts (one resource map) as plain numbers that numpy reads fast, with no precision lost.

    ``keys`` in the order given (the caller's reading order); per key, ``floats`` approximates the
    amount, and ``mantissas`` and ``exponents`` hold it exactly as ``mantissa × 10^exponent``
    (Python ints), so that whole units of any granularity can be counted in integer arithmetic.
    ``packed`` holds ``layout(keys)``, then the same floats, mantissas and exponents, as native 64-bit
    machine numbers (``None`` when a mantissa or exponent reaches 2^62), so that the allocator joins a
    pool's rows into one numpy array, and checks that they all list the pool's keys, without touching
    a Python number.
    Built once, when a tenant is loaded, because converting Decimals one by one would dominate the
    allocator's time at 10,000 tenants.
    """

    keys: tuple[str, ...]
    floats: tuple[float, ...]
    mantissas: tuple[int, ...]
    exponents: tuple[int, ...]
    packed: bytes | None = None

    @classmethod
    def of(cls, amounts: Mapping[str, Decimal], *, order: Callable[[Iterable[str]], tuple[str, ...]]) -> Numbers:
        keys = order(amounts)
        parts = [decompose(amounts[k]) for k in keys]
        floats = tuple(float(amounts[k]) for k in keys)
        mantissas, exponents = tuple(m for m, _ in parts), tuple(e for _, e in parts)
        packed = None
        if all(-_INT62 < m < _INT62 and -_INT62 < e < _INT62 for m, e in parts) and not any(map(math.isnan, floats)):
            packed = (array.array("q", [layout(keys)]).tobytes() + array.array("d", floats).tobytes()
                      + array.array("q", [*mantissas, *exponents]).tobytes())
        return cls(keys=keys, floats=floats, mantissas=mantissas, exponents=exponents, packed=packed)


_INT62 = 2**62
# Every distinct tuple of keys gets a marker, once per process, so that a row of packed numbers says
# which keys it holds in one 64-bit word. A marker is the bit pattern of a float NaN read as an
# integer: no packed float is a NaN (amounts are finite) and no packed integer reaches 2^62, so a
# marker can only be found where a row begins, and rows joined end to end can be checked for
# alignment and keys at once. The counter hands out each marker once, even across threads.
_LAYOUTS: dict[tuple[str, ...], int] = {}
_NEXT_LAYOUT = itertools.count(0x7FF8_0000_0000_0001)


def layout(keys: tuple[str, ...]) -> int:
    """The marker standing for this tuple of keys (in this order) at the start of ``Numbers.packed``."""
    found = _LAYOUTS.get(keys)
    return found if found is not None else _LAYOUTS.setdefault(keys, next(_NEXT_LAYOUT))


def decompose(value: Decimal) -> tuple[int, int]:
    """``(mantissa, exponent)`` with ``value == mantissa × 10^exponent`` exactly."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{value} is not a finite number")
    mantissa = int("".join(map(str, digits)) or "0")
    return (-mantissa if sign else mantissa), exponent


def _ratio_text(kind: str, text: str) -> Decimal:
    _precheck(kind, text, parse_ratio if kind == "ratio" else parse_percent)
    match = _RATIO.fullmatch(text)
    if match is None:
        raise _error(kind, text, "it is not a number or a percentage", _EXAMPLE[kind])
    value = _scale(match["num"], int(match["exp"] or 0) - (2 if match["pct"] else 0))[0]
    if value is None:
        raise _error(kind, text, "it has too many digits", _EXAMPLE[kind])
    return _tidy(value)


def parse_ratio(text: str | int | float | Decimal) -> Decimal:
    """A non-negative ratio such as "2", 1.5 or "150%" (= 1.5), used for overcommit and shares.

    A float is read through ``str()``, which gives the shortest text that YAML's float came from.
    """
    if isinstance(text, float):
        text = str(text)
    if isinstance(text, str):
        return _ratio_text("ratio", text)
    return _number("ratio", text)


def parse_percent(text: str) -> Decimal:
    """A percentage from "0%" to "100%" as a fraction: "5%" → Decimal("0.05")."""
    if not isinstance(text, str):
        whole = isinstance(text, int) and not isinstance(text, bool)
        hint = f'write "{text}%"' if whole else _EXAMPLE["percentage"]
        raise _error("percentage", text, "a percentage must be text ending in %", hint)
    _precheck("percentage", text, parse_percent)
    if not text.endswith("%"):
        hint = _write((f"{text}%", ""), parse=parse_percent) or _EXAMPLE["percentage"]
        raise _error("percentage", text, "a percentage must end with %", hint)
    value = _ratio_text("percentage", text)
    if value > 1:
        raise _error("percentage", text, "it is over 100%", _EXAMPLE["percentage"])
    return value
