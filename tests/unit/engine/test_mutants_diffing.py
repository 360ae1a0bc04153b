"""engine.diffing.diff_fields: a map the live object lacks is one difference holding the whole desired map."""

from __future__ import annotations

from dctenant.domain import changes
from dctenant.engine import diffing


def test_a_missing_map_is_one_difference_with_the_desired_map() -> None:
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": ("x",)}}
    observed = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "status": {"ignored": True}}
    assert diffing.diff_fields(desired, observed) == (
        changes.FieldDiff(path="data", before=None, after={"a": "1", "b": ["x"]}),)
    assert diffing.diff_fields(desired, observed | {"data": "text"}) == (
        changes.FieldDiff(path="data", before="text", after={"a": "1", "b": ["x"]}),)
