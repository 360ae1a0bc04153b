"""The three-tier policy the allocation tests and benchmarks share (national 4 / 0.5, standard 2 / 0.25,
startup 1 / 0): one definition, so a test's hand-computed figures and a benchmark's estate agree."""

from __future__ import annotations

from decimal import Decimal

from dctenant.domain import policies

POLICY = policies.Policy(
    name="p",
    tiers={
        "national": policies.Tier(name="national", weight=Decimal(4), guaranteed=Decimal("0.5")),
        "standard": policies.Tier(name="standard", weight=Decimal(2), guaranteed=Decimal("0.25")),
        "startup": policies.Tier(name="startup", weight=Decimal(1), guaranteed=Decimal(0)),
    },
)
