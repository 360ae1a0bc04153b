"""Resource keys: kinds, order, parsing and spelling of amounts, arithmetic helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dctenant.domain import quantities, resources

KEYS = ["cpu", "memory", "nvidia.com/gpu", "storage/ssd", "bandwidth/egress", "bandwidth/ingress"]


@pytest.mark.parametrize(("key", "kind", "unit"), [
    ("cpu", resources.Kind.CPU, "cores"),
    ("memory", resources.Kind.MEMORY, "bytes"),
    ("nvidia.com/gpu", resources.Kind.GPU, "GPUs"),
    ("storage/nvme-replicated", resources.Kind.STORAGE, "bytes"),
    ("bandwidth/egress", resources.Kind.BANDWIDTH, "bits per second"),
    ("bandwidth/ingress", resources.Kind.BANDWIDTH, "bits per second"),
])
def test_kind_and_unit(key: str, kind: resources.Kind, unit: str) -> None:
    assert resources.kind(key) is kind
    assert kind.unit == unit


@pytest.mark.parametrize("key", ["storage/", "bandwidth/sideways", "gpu", "", "CPU", "storage"])
def test_unknown_keys(key: str) -> None:
    with pytest.raises(KeyError):
        resources.kind(key)


def test_storage_key() -> None:
    assert resources.storage("hdd-archive") == "storage/hdd-archive"


def test_reading_order() -> None:
    keys = ["bandwidth/ingress", "storage/b", "nvidia.com/gpu", "bandwidth/egress", "memory", "storage/a", "cpu", "cpu"]
    assert resources.ordered(keys) == (
        "cpu", "memory", "nvidia.com/gpu", "storage/a", "storage/b", "bandwidth/egress", "bandwidth/ingress")


@pytest.mark.parametrize(("key", "text", "value"), [
    ("cpu", "500m", Decimal("0.5")),
    ("cpu", 96, Decimal(96)),
    ("memory", "1.5Gi", Decimal(3 * 2**29)),
    ("storage/x", "2Pi", Decimal(2**51)),
    ("nvidia.com/gpu", "8", Decimal(8)),
    ("nvidia.com/gpu", "1e1", Decimal(10)),
    ("bandwidth/egress", "1.2Tbps", Decimal(1_200_000_000_000)),
    ("bandwidth/ingress", 1000, Decimal(1000)),
])
def test_parse_amount(key: str, text: str | int, value: Decimal) -> None:
    assert resources.parse_amount(key, text) == value


@pytest.mark.parametrize(("text", "hint"), [("1.5", "write 1 or 2"), ("500m", "write 0 or 1")])
def test_fractional_gpu_refused(text: str, hint: str) -> None:
    with pytest.raises(quantities.QuantityError) as caught:
        resources.parse_amount("nvidia.com/gpu", text)
    assert caught.value.hint == hint
    assert str(caught.value) == f'invalid GPU count "{text}": GPUs are whole devices; {hint}'


def test_bandwidth_key_rejects_byte_units() -> None:
    with pytest.raises(quantities.QuantityError):
        resources.parse_amount("bandwidth/egress", "10GB")


@pytest.mark.parametrize(("key", "value", "text"), [
    ("cpu", Decimal("0.25"), "250m"),
    ("memory", Decimal(80 * 2**40), "80Ti"),
    ("bandwidth/egress", Decimal(1_600_000_000_000), "1600Gbps"),
    ("bandwidth/egress", Decimal(0), "0bps"),
    ("nvidia.com/gpu", Decimal(48), "48"),
])
def test_format_amount(key: str, value: Decimal, text: str) -> None:
    assert resources.format_amount(key, value) == text


@given(st.sampled_from(KEYS), st.integers(0, 10**20))
def test_format_then_parse_is_exact(key: str, n: int) -> None:
    value = Decimal(n) / 1000 if key == "cpu" else Decimal(n)
    assert resources.parse_amount(key, resources.format_amount(key, value)) == value


def test_add() -> None:
    a = {"cpu": Decimal(1), "memory": Decimal(2)}
    assert resources.add(a, {"cpu": Decimal("0.5"), "storage/x": Decimal(3)}) == {
        "cpu": Decimal("1.5"), "memory": Decimal(2), "storage/x": Decimal(3)}
    assert a == {"cpu": Decimal(1), "memory": Decimal(2)}  # not modified


@pytest.mark.parametrize(("key", "value", "rounded"), [
    ("cpu", Decimal("133.2333"), Decimal("133.234")),
    ("cpu", Decimal("800"), Decimal("800")),
    ("memory", Decimal("879609302220.8"), Decimal("879609302221")),
    ("nvidia.com/gpu", Decimal("0.1"), Decimal(1)),
    ("bandwidth/egress", Decimal("160000000000"), Decimal("160000000000")),
])
def test_round_up(key: str, value: Decimal, rounded: Decimal) -> None:
    assert resources.round_up(key, value) == rounded


@given(st.sampled_from(KEYS), st.decimals(0, 10**15, places=4))
def test_round_up_never_rounds_down_and_is_fine(key: str, value: Decimal) -> None:
    rounded = resources.round_up(key, value)
    step = resources.FINEST[resources.kind(key)]
    assert value <= rounded < value + step
    assert (rounded / step) == (rounded / step).to_integral_value()


@pytest.mark.parametrize(("key", "value", "text"), [
    ("memory", Decimal(int(204.8 * 2**40)), "204.8Ti"),
    ("storage/x", Decimal(2**50), "1Pi"),
    ("bandwidth/egress", Decimal(1_200_000_000_000), "1.2Tbps"),
    ("bandwidth/egress", Decimal(500), "500bps"),
    ("cpu", Decimal(31200), "31200"),
    ("cpu", Decimal("12.5"), "12.5"),
    ("nvidia.com/gpu", Decimal(368), "368"),
])
def test_humanize(key: str, value: Decimal, text: str) -> None:
    assert resources.humanize(key, value) == text


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("800"), "800"), (Decimal("0.25"), "0.25"), (Decimal("1E+3"), "1000"), (Decimal("-0"), "0"),
    (Decimal("0.000"), "0"), (Decimal("1.50"), "1.5"),
])
def test_plain(value: Decimal, text: str) -> None:
    assert resources.plain(value) == text


def test_quota_keys_of_every_kind() -> None:
    """The keys the renderer writes and the enforcer lowers (one mapping, in domain.resources)."""
    assert resources.quota_keys("cpu") == ("requests.cpu", "limits.cpu")
    assert resources.quota_keys("memory") == ("requests.memory", "limits.memory")
    assert resources.quota_keys("nvidia.com/gpu") == ("requests.nvidia.com/gpu",)
    assert resources.quota_keys("storage/ssd") == ("ssd.storageclass.storage.k8s.io/requests.storage",)
    assert resources.quota_keys("bandwidth/egress") == ()
