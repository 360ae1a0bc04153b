"""Read a *resource map*: the one shape used for capacity, reserve, overcommit, demand and quotas.

```yaml
cpu: "96"
memory: 512Gi
nvidia.com/gpu: 8
storage: {nvme-replicated: 40Ti}
bandwidth: {egress: 10Gbps, ingress: 5Gbps}
```
Amounts become a flat ``{resource key: Decimal}``. A reserve may also be a percentage, and in a
reserve or overcommit map ``storage``/``bandwidth`` may be one scalar for every class/direction
(returned under the wildcard keys ``storage/*`` and ``bandwidth/*``).
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dctenant.domain import quantities, resources
from dctenant.errors import suggestion
from dctenant.loaders.documents import Path
from dctenant.loaders.fields import Reader

STORAGE_ANY = "storage/*"
BANDWIDTH_ANY = "bandwidth/*"
FIELDS = ("cpu", "memory", "nvidia.com/gpu", "storage", "bandwidth")


class Mode(enum.Enum):
    AMOUNT = "amount"  # capacity, demand, quota: quantities only
    RESERVE = "reserve"  # quantities or percentages; scalar storage/bandwidth allowed
    OVERCOMMIT = "overcommit"  # ratios >= 1; scalar storage/bandwidth allowed


@dataclass(frozen=True, kw_only=True)
class Percent:
    """A share of the capacity (a reserve written as ``"5%"``)."""

    share: Decimal


Value = Decimal | Percent


def read(
    reader: Reader, path: Path, raw: Any, *, mode: Mode, storage_classes: Collection[str] | None = None
) -> dict[str, Value]:
    """Read a resource map; unknown storage classes are reported when ``storage_classes`` is given."""
    fields = reader.mapping(path, raw, optional=FIELDS)
    if fields is None:
        return {}
    out: dict[str, Value] = {}

    def one(key: str, where: Path, value: Any) -> None:
        parsed = _value(reader, where, key, value, mode=mode)
        if parsed is not None:
            out[key] = parsed

    for name in ("cpu", "memory", "nvidia.com/gpu"):
        if name in fields:
            one(name, (*path, name), fields[name])
    scalar_ok = mode is not Mode.AMOUNT
    if "storage" in fields:
        value = fields["storage"]
        if scalar_ok and not isinstance(value, dict):
            one(STORAGE_ANY, (*path, "storage"), value)
        else:
            classes = reader.mapping((*path, "storage"), value) or {}
            for cls, amount in classes.items():
                where = (*path, "storage", cls)
                if storage_classes is not None and cls not in storage_classes:
                    hint = suggestion(cls, storage_classes) or "declared classes: " + ", ".join(sorted(storage_classes))
                    reader.report(where, f'unknown storage class "{cls}"', hint=hint)
                    continue
                one(resources.storage(cls), where, amount)
    if "bandwidth" in fields:
        value = fields["bandwidth"]
        if scalar_ok and not isinstance(value, dict):
            one(BANDWIDTH_ANY, (*path, "bandwidth"), value)
        else:
            directions = reader.mapping((*path, "bandwidth"), value, optional=resources.DIRECTIONS) or {}
            for direction, amount in directions.items():
                one(resources.BANDWIDTH_PREFIX + direction, (*path, "bandwidth", direction), amount)
    return out


def amounts(values: dict[str, Value]) -> dict[str, Decimal]:
    """The plain amounts of a map read in ``Mode.AMOUNT`` (which holds no percentages)."""
    return {k: v for k, v in values.items() if isinstance(v, Decimal)}


def _value(reader: Reader, path: Path, key: str, raw: Any, *, mode: Mode) -> Value | None:
    if mode is Mode.OVERCOMMIT:
        ratio = reader.ratio(path, raw, minimum=Decimal(1))
        kind = resources.BANDWIDTH_PREFIX if key.startswith(resources.BANDWIDTH_PREFIX) else key
        if ratio is not None and ratio > 1 and kind not in ("cpu", resources.BANDWIDTH_PREFIX):
            reader.report(path, f"{key.removesuffix('/*')} may not be overcommitted (ratio {ratio})",
                          hint="only cpu and bandwidth may exceed 1; remove this line or write 1")
            return None
        return ratio
    if mode is Mode.RESERVE and isinstance(raw, str) and raw.strip().endswith("%"):
        try:
            return Percent(share=quantities.parse_percent(raw))
        except quantities.QuantityError as exc:
            reader.report(path, str(exc))
            return None
    if isinstance(raw, float) and math.isfinite(raw):
        # YAML reads an unquoted 0.5 as a float; its shortest repr is the text the user wrote.
        raw = Decimal(repr(raw))
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        reader.report(path, f"expected a quantity, got {raw!r}",
                      hint='write a quantity such as "500m", "8Gi" or "10Gbps"')
        return None
    probe = resources.EGRESS if key == BANDWIDTH_ANY else resources.storage("x") if key == STORAGE_ANY else key
    parsed = _parse(probe, type(raw).__name__, raw)
    if isinstance(parsed, str):
        reader.report(path, parsed)
        return None
    return parsed


@functools.lru_cache(maxsize=1 << 16)
def _parse(probe: str, _type: str, raw: str | int | Decimal) -> Decimal | str:
    """The amount, or the error message; cached because quota files repeat a few spellings
    ("64Gi", "10Gbps") many times, and parsing was most of the time of a large load.
    Decimals are immutable, so sharing a cached value is safe; ``_type`` keeps 5 and "5" apart."""
    try:
        return resources.parse_amount(probe, raw)
    except quantities.QuantityError as exc:
        return str(exc)
