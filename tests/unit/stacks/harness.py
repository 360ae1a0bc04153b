"""Run the stack program under Pulumi's mocks and record what it declares, with its options.

``Recorder`` (the ``Mocks``) keeps every resource's inputs as the engine would receive them;
``RecordingMonitor`` keeps the resource options the SDK sends with each registration
(``protect``, ``retainOnDelete``, ``provider``, ``parent``, ``dependencies``, ``ignoreChanges``). Both are filled
synchronously while the program registers resources, and ``run`` waits for every registration
(``pulumi.runtime.test`` runs the program to completion), so no assertion depends on an ``apply``
callback that might never run.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.runtime.config as pulumi_config
import pulumi.runtime.settings as pulumi_settings
import pytest
import yaml
from pulumi.runtime import mocks

from tests.conftest import REPO

PROJECT = "dctenant-datacentre"
PROJECT_DIR = REPO / "stacks" / "datacentre"
PROVIDER_TYPE = "pulumi:providers:kubernetes"
Key = tuple[str, str, str]  # (kind, namespace, name); namespace "" for cluster-scoped objects


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    custom: bool
    protect: bool
    retain_on_delete: bool
    provider: str
    parent: str
    dependencies: tuple[str, ...]
    ignore_changes: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""


class Recorder(mocks.Mocks):
    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        key = (args.typ, args.name)
        assert key not in self.inputs, f"{key} registered twice"
        self.inputs[key] = dict(args.inputs)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"the program must not invoke provider functions ({args.token})")


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(Registration(
                type=request.type, name=request.name, urn=response.urn, custom=bool(request.custom),
                protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
                provider=request.provider, parent=request.parent, dependencies=tuple(request.dependencies),
                ignore_changes=tuple(request.ignoreChanges), id=response.id))
        return response


@dataclass
class Run:
    """What one run of the program declared."""

    registrations: list[Registration]
    outputs: dict[str, Any]

    @property
    def kubernetes(self) -> list[Registration]:
        """The Kubernetes objects (not the provider, not the components)."""
        return [r for r in self.registrations if r.custom and r.type.startswith("kubernetes:")]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}

    def one(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def objects(self) -> dict[Key, dict[str, Any]]:
        """The declared Kubernetes objects by (kind, namespace, name), as their inputs."""
        out: dict[Key, dict[str, Any]] = {}
        for r in self.kubernetes:
            meta = r.inputs.get("metadata", {})
            key = (r.inputs.get("kind", "?"), meta.get("namespace", ""), meta.get("name", "?"))
            assert key not in out, f"{key} declared twice"
            out[key] = r.inputs
        return out


def reset_runtime() -> None:
    """Back to the state of a process that never ran a Pulumi program (settings, config, root stack)."""
    pulumi_settings.reset_options(project="project", stack="stack", root_directory="root_directory",
                                  organization="organization")
    pulumi_config.CONFIG.set({})
    pulumi_config._SECRET_KEYS.set(set())  # no public way to clear it


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No quotas override from the caller's shell, and no PULUMI_K8S_* variables, which
    pulumi_kubernetes.Provider would turn into provider inputs."""
    monkeypatch.delenv("DCTENANT_QUOTAS", raising=False)
    for name in [n for n in os.environ if n.startswith("PULUMI_K8S_")]:
        monkeypatch.delenv(name)


def stack_config(pool: str) -> dict[str, str]:
    """The shipped ``Pulumi.<pool>.yaml``'s settings, as the CLI would hand them to the program."""
    data = yaml.safe_load((PROJECT_DIR / f"Pulumi.{pool}.yaml").read_text(encoding="utf-8"))
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in data["config"].items()}


def nothing_held(context: str) -> tuple[Any, ...]:
    """The default enforcement lookup under mocks: no cluster, nothing held."""
    return ()


def run(stack: str, config: Mapping[str, str], *, lookup: Callable[[str], Any] = nothing_held) -> Run:
    """Run ``program.main()`` as stack ``stack`` with ``config`` (fully qualified keys), under mocks.

    ``lookup`` stands in for the cluster the program asks which objects enforcement holds.
    """
    from dctenant_stack import program

    reset_runtime()
    recorder = Recorder()
    monitor = RecordingMonitor(recorder)
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config))
    root = pulumi_settings.get_root_resource()

    @pulumi.runtime.test  # type: ignore[misc]
    def body() -> None:
        program.main(lookup=lookup)

    body()
    for registration in monitor.registrations:
        registration.inputs = recorder.inputs[(registration.type, registration.name)]
    outputs = dict(getattr(root, "outputs", {}))
    return Run(registrations=monitor.registrations, outputs=outputs)


def normalise(value: Any) -> Any:
    """The mocks' view of a value, made comparable with a manifest.

    Numbers travel as protobuf doubles (``53`` arrives as ``53.0``): integral floats become ints.
    Top-level keys are the Kubernetes field names (camelCase); the SDK presents them so, but a
    snake_case spelling (``api_version``) is mapped back in case a version of it ever does not.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def manifest_key(manifest: Mapping[str, Any]) -> Key:
    meta = manifest["metadata"]
    return (manifest["kind"], meta.get("namespace", ""), meta["name"])


def differences(declared: Mapping[Key, Mapping[str, Any]], expected: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every way the declared objects differ from the expected manifests (empty when equal)."""
    wanted = {manifest_key(m): m for m in expected}
    problems = [f"missing {k}" for k in sorted(set(wanted) - set(declared))]
    problems += [f"unexpected {k}" for k in sorted(set(declared) - set(wanted))]
    for key in sorted(set(wanted) & set(declared)):
        got = normalise({_camel(k): v for k, v in declared[key].items()})
        problems += [f"{key} {path}" for path in _diff(got, dict(wanted[key]), "")]
    return problems


def _diff(got: Any, want: Any, path: str) -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for k in sorted(set(want) | set(got)):
            if k not in got:
                out.append(f"{path}.{k}: missing")
            elif k not in want:
                out.append(f"{path}.{k}: unexpected {got[k]!r}")
            else:
                out += _diff(got[k], want[k], f"{path}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True)) for d in _diff(g, w, f"{path}[{i}]")]
    if got != want or type(got) is not type(want):
        return [f"{path or '.'}: {got!r} != {want!r}"]
    return []


def rendered_files(out: pathlib.Path, pool: str) -> list[dict[str, Any]]:
    """Every Kubernetes object ``dctenant render`` wrote for ``pool`` under ``out``.

    The plain Prometheus rules file (``groups:``, no ``kind``) is not an object; it is checked on
    its own (``rules_file``).
    """
    objects: list[dict[str, Any]] = []
    for path in sorted((out / pool).glob("*.yaml")):
        objects.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d and "kind" in d)
    return objects
