"""Resource keys and their units, so that every layer names and orders resources the same way.

A resource key is a string: ``cpu``, ``memory``, ``nvidia.com/gpu``, ``storage/<class>``,
``bandwidth/egress`` or ``bandwidth/ingress``. Its *kind* decides how its quantities are
parsed and written (Kubernetes quantity or bit rate) and its base unit (cores, bytes, GPUs,
bits per second).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from decimal import Decimal

from dctenant.domain import quantities

CPU = "cpu"
MEMORY = "memory"
GPU = "nvidia.com/gpu"
STORAGE_PREFIX = "storage/"
BANDWIDTH_PREFIX = "bandwidth/"
EGRESS = "bandwidth/egress"
INGRESS = "bandwidth/ingress"
DIRECTIONS = ("egress", "ingress")


class Kind(enum.Enum):
    """What a resource measures; it decides the unit and the spelling of its quantities."""

    CPU = "cpu"
    MEMORY = "memory"
    GPU = "gpu"
    STORAGE = "storage"
    BANDWIDTH = "bandwidth"

    @property
    def unit(self) -> str:
        return _UNITS[self]


_UNITS = {
    Kind.CPU: "cores",
    Kind.MEMORY: "bytes",
    Kind.GPU: "GPUs",
    Kind.STORAGE: "bytes",
    Kind.BANDWIDTH: "bits per second",
}


def storage(storage_class: str) -> str:
    """The resource key of a storage class."""
    return STORAGE_PREFIX + storage_class


def kind(key: str) -> Kind:
    """The kind of a resource key; raises ``KeyError`` for a key that is not a resource."""
    if key == CPU:
        return Kind.CPU
    if key == MEMORY:
        return Kind.MEMORY
    if key == GPU:
        return Kind.GPU
    if key.startswith(STORAGE_PREFIX) and len(key) > len(STORAGE_PREFIX):
        return Kind.STORAGE
    if key in (EGRESS, INGRESS):
        return Kind.BANDWIDTH
    raise KeyError(key)


_READING_ORDER = {Kind.CPU: 0, Kind.MEMORY: 1, Kind.GPU: 2, Kind.STORAGE: 3, Kind.BANDWIDTH: 4}


@functools.lru_cache(maxsize=4096)
def sort_key(key: str) -> tuple[int, str]:
    """Order resources as people read them: cpu, memory, GPU, storage classes, bandwidth.

    Cached: a data centre has a handful of resource keys, and a plan of 10,000 tenants sorts them
    tens of thousands of times.
    """
    return (_READING_ORDER[kind(key)], key)


def ordered(keys: Iterable[str]) -> tuple[str, ...]:
    """The keys, unique, in reading order."""
    return tuple(sorted(set(keys), key=sort_key))


def format_amount(key: str, value: Decimal) -> str:
    """A quantity of a resource, spelled as the user would write it in ``quotas/``."""
    if kind(key) is Kind.BANDWIDTH:
        return quantities.Bandwidth.format(value)
    return quantities.Quantity.format(value)


def parse_amount(key: str, text: str | int | Decimal) -> Decimal:
    """Parse a quantity of a resource; raises ``quantities.QuantityError``."""
    if kind(key) is Kind.BANDWIDTH:
        return quantities.Bandwidth.parse(text)
    value = quantities.Quantity.parse(text)
    if kind(key) is Kind.GPU and value != value.to_integral_value():
        raise quantities.QuantityError(
            f'invalid GPU count "{text}": GPUs are whole devices', hint=f"write {int(value)} or {int(value) + 1}"
        )
    return value


def add(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Sum of two resource vectors (missing keys count as zero)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, Decimal(0)) + v
    return out


# The finest amount each kind can express: Kubernetes cannot request below a millicore, a byte
# or a whole GPU, and bandwidth annotations are whole bits per second.
FINEST = {Kind.CPU: Decimal("0.001"), Kind.MEMORY: Decimal(1), Kind.GPU: Decimal(1),
          Kind.STORAGE: Decimal(1), Kind.BANDWIDTH: Decimal(1)}


def round_up(key: str, value: Decimal) -> Decimal:
    """``value`` rounded up to the finest amount its resource can express (used for percent reserves)."""
    step = FINEST[kind(key)]
    return (value / step).to_integral_value(rounding="ROUND_CEILING") * step


_BINARY = (("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_RATES = (("Tbps", 10**12), ("Gbps", 10**9), ("Mbps", 10**6), ("Kbps", 10**3))


def humanize(key: str, value: Decimal) -> str:
    """A short, approximate spelling for tables (``204.8Ti``, ``1.2Tbps``, ``31.2k``); JSON keeps exact values."""
    number, suffix = humanize_parts(key, value)
    return number + suffix


def humanize_parts(key: str, value: Decimal) -> tuple[str, str]:
    """``humanize`` as its number and its unit suffix (``("204.8", "Ti")``; ``""`` in base units)."""
    k = kind(key)
    units = _BINARY if k in (Kind.MEMORY, Kind.STORAGE) else _RATES if k is Kind.BANDWIDTH else ()
    suffix = "bps" if k is Kind.BANDWIDTH else ""
    for name, factor in units:
        if value >= factor:
            value, suffix = value / factor, name
            break
    text = f"{value:.1f}" if value != value.to_integral_value() else f"{value:.0f}"
    if k is Kind.CPU and value != value.to_integral_value():
        text = f"{value:.3f}".rstrip("0")
    return text.removesuffix(".0"), suffix


def quota_keys(key: str) -> tuple[str, ...]:
    """The ResourceQuota ``hard`` keys that hold a resource, in the order they are rendered.

    cpu and memory are held as requests and limits; GPUs as requests only (extended resources
    cannot be overcommitted); a storage class by its own per-class key. Bandwidth has none: it is
    not a ResourceQuota resource. The renderer and the enforcer both call this, so that a throttle
    lowers exactly the keys that ``apply`` writes.
    """
    k = kind(key)
    if k is Kind.CPU:
        return ("requests.cpu", "limits.cpu")
    if k is Kind.MEMORY:
        return ("requests.memory", "limits.memory")
    if k is Kind.GPU:
        return (f"requests.{GPU}",)
    if k is Kind.STORAGE:
        return (f"{key.removeprefix(STORAGE_PREFIX)}.storageclass.storage.k8s.io/requests.storage",)
    return ()


def plain(value: Decimal) -> str:
    """A Decimal as a plain decimal string in base units (``"800"``, ``"0.25"``): the JSON form."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
