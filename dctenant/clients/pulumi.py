"""The Pulumi Automation API, used only when the pulumi CLI is installed: the only dctenant module importing pulumi.

The Automation API drives the ``pulumi`` CLI as a subprocess, and the CLI is not something dctenant
may fetch on its own (``PulumiCommand.install`` downloads it from the internet): when ``pulumi`` is
not on PATH, ``find_cli`` raises ``PulumiNotInstalledError`` with installation instructions and
the CLI exits 4. ``pulumi`` is imported lazily, so dctenant works without the ``stacks`` extra.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dctenant.errors import BackendError, UserError

INSTALL = (
    "the pulumi CLI is not on PATH; dctenant never downloads it. Install it from your site's package "
    "mirror, or from https://www.pulumi.com/docs/install/ (for example `curl -fsSL https://get.pulumi.com | sh`, "
    "then add ~/.pulumi/bin to PATH), and check with `pulumi version`"
)
INSTALL_NEWER = "install a current release the same way (https://www.pulumi.com/docs/install/)"
EXTRA = "the pulumi Python packages are not installed; install dctenant with its extra: pip install 'dctenant[stacks]'"


class PulumiNotInstalledError(BackendError):
    """The pulumi CLI is not on PATH (``dctenant stack`` exits 4)."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """The resource changes by operation (``create``, ``update``, ``same`` …) and the stack outputs."""

    changes: Mapping[str, int]
    outputs: Mapping[str, Any] = field(default_factory=dict)


def find_cli() -> str:
    """The path of the ``pulumi`` executable, or ``PulumiNotInstalledError``."""
    found = shutil.which("pulumi")
    if found is None:
        raise PulumiNotInstalledError(INSTALL)
    return found


def run(
    action: str,
    *,
    work_dir: str,
    stack: str,
    env: Mapping[str, str],
    policy_packs: Sequence[str] = (),
    on_output: Callable[[str], None] | None = None,
) -> Outcome:
    """Run ``preview``, ``up`` or ``refresh`` on ``stack`` of the project in ``work_dir``.

    ``preview`` and ``up`` create the stack in the backend on first use; ``refresh`` needs it to
    exist (there is nothing to compare before the first ``up``).
    """
    find_cli()
    try:
        from pulumi import automation as auto
    except ImportError as exc:  # the stacks extra is missing
        raise PulumiNotInstalledError(EXTRA) from exc

    options = auto.LocalWorkspaceOptions(work_dir=work_dir, env_vars=dict(env))
    try:
        if action == "refresh":
            target = auto.select_stack(stack_name=stack, work_dir=work_dir, opts=options)
            result = target.refresh(on_output=on_output, color="never")
            return Outcome(changes=_changes(result.summary.resource_changes))
        target = auto.create_or_select_stack(stack_name=stack, work_dir=work_dir, opts=options)
        packs = list(policy_packs) or None
        if action == "preview":
            preview = target.preview(on_output=on_output, color="never", policy_packs=packs, diff=True)
            return Outcome(changes=_changes(preview.change_summary))
        if action == "up":
            up = target.up(on_output=on_output, color="never", policy_packs=packs)
            return Outcome(changes=_changes(up.summary.resource_changes),
                           outputs={k: v.value for k, v in up.outputs.items()})
    except auto.errors.StackNotFoundError as exc:
        raise UserError(f'stack "{stack}" does not exist in the backend yet; run `dctenant stack up` first',
                        location="--pool") from exc
    except auto.errors.ConcurrentUpdateError as exc:
        raise BackendError(f'another update of stack "{stack}" is running; try again when it finishes') from exc
    except auto.errors.CommandError as exc:
        raise BackendError(f"pulumi {action} failed for stack {stack}: {_reason(str(exc))}") from exc
    except auto.errors.InvalidVersionError as exc:
        raise PulumiNotInstalledError(f"the pulumi CLI on PATH is not usable: {exc}; {INSTALL_NEWER}") from exc
    raise UserError(f'unknown action "{action}"')


def _changes(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """Operation names as plain strings (the Automation API uses an enum)."""
    return {str(getattr(op, "value", op)): int(n) for op, n in (summary or {}).items()}


def _reason(text: str, count: int = 12) -> str:
    """pulumi's error output (the end of it, where the error is), without the Automation API's framing."""
    _, marker, stderr = text.partition(" stderr: ")
    lines = [ln for ln in (stderr if marker else text).strip().splitlines() if ln.strip()]
    return "\n".join(lines[-count:]) or text.strip()
