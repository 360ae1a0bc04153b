"""Licence states as of a day, and the tenant's namespace totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dctenant.domain import policies, pools, tenants

RULES = policies.LicenceRules(warning_days=30, grace_days=14)
EXPIRES = dt.date(2027, 3, 1)
State = tenants.LicenceState


def licence(status: tenants.LicenceStatus = tenants.LicenceStatus.ACTIVE, expires: dt.date = EXPIRES
            ) -> tenants.Licence:
    return tenants.Licence(number="CRA-MSG-1401-0001", issued=dt.date(2022, 3, 1), expires=expires, status=status)


@pytest.mark.parametrize(("days_before_expiry", "state"), [
    (365, State.ACTIVE),
    (31, State.ACTIVE),
    (30, State.EXPIRING),  # exactly warningDays left: warned
    (1, State.EXPIRING),
    (0, State.EXPIRING),  # the expiry day is the last valid day
    (-1, State.GRACE),
    (-14, State.GRACE),  # exactly graceDays after expiry: still served
    (-15, State.EXPIRED),
    (-1000, State.EXPIRED),
])
def test_state_boundaries(days_before_expiry: int, state: tenants.LicenceState) -> None:
    at = EXPIRES - dt.timedelta(days=days_before_expiry)
    assert licence().days_to_expiry(at=at) == days_before_expiry
    assert licence().state(at=at, rules=RULES) is state


@pytest.mark.parametrize("status", [tenants.LicenceStatus.SUSPENDED, tenants.LicenceStatus.REVOKED])
@pytest.mark.parametrize("offset", [-100, -1, 0, 10, 1000])
def test_suspended_and_revoked_ignore_the_dates(status: tenants.LicenceStatus, offset: int) -> None:
    at = EXPIRES + dt.timedelta(days=offset)
    assert licence(status).state(at=at, rules=RULES) is State(status.value)


def test_zero_warning_and_grace_days() -> None:
    rules = policies.LicenceRules(warning_days=0, grace_days=0)
    assert licence().state(at=EXPIRES - dt.timedelta(days=1), rules=rules) is State.ACTIVE
    assert licence().state(at=EXPIRES, rules=rules) is State.EXPIRING
    assert licence().state(at=EXPIRES + dt.timedelta(days=1), rules=rules) is State.EXPIRED


def test_served_states() -> None:
    assert {s for s in State if s.served} == {State.ACTIVE, State.EXPIRING, State.GRACE}


@given(st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)), st.integers(0, 400), st.integers(0, 400))
def test_state_is_monotonic_in_time(at: dt.date, warning: int, grace: int) -> None:
    """Over time an active licence only moves forward: active → expiring → grace → expired."""
    rules = policies.LicenceRules(warning_days=warning, grace_days=grace)
    order = [State.ACTIVE, State.EXPIRING, State.GRACE, State.EXPIRED]
    today = order.index(licence().state(at=at, rules=rules))
    tomorrow = order.index(licence().state(at=at + dt.timedelta(days=1), rules=rules))
    assert tomorrow in (today, today + 1)


def test_namespace_total_sums_one_pool() -> None:
    tenant = tenants.Tenant(
        id="bale", display_name=pools.DisplayName(en="Bale", fa="بله"), tier="national", licence=licence(),
        owners=tenants.Owners(groups=("admins",)), demand={"a": {"cpu": Decimal(10)}},
        namespaces=(
            tenants.Namespace(name="bale-x", pool="a", quota={"cpu": Decimal("1.5"), "memory": Decimal(5)}),
            tenants.Namespace(name="bale-y", pool="a", quota={"cpu": Decimal("2.25")}),
            tenants.Namespace(name="bale-z", pool="b", quota={"cpu": Decimal(100)}),
        ),
    )
    assert tenant.namespace_total("a") == {"cpu": Decimal("3.75"), "memory": Decimal(5)}
    assert tenant.namespace_total("b") == {"cpu": Decimal(100)}
    assert tenant.namespace_total("nowhere") == {}


def test_domain_objects_are_frozen() -> None:
    with pytest.raises(AttributeError):
        licence().status = tenants.LicenceStatus.REVOKED  # type: ignore[misc]
