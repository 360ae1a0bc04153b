"""The enforcer's memory on disk, so that a restarted enforcer continues where it stopped.

It holds what was done: per track, the actions in force, when the newest was taken and whether a
notice went out; and what the actions replaced (replica counts, quota values, bandwidth parameters
and annotations), without which ``undo`` could not put things back exactly. A small JSON file,
written through a temporary
file and a rename so that a crash never leaves half a file; one file per pool selection
(``enforcer-<pool>.json`` or ``enforcer-all.json``) in ``$XDG_STATE_HOME/dctenant``.

No clock of usage is kept: how long usage has been over or under a threshold is read from
Prometheus' history each cycle. Version-1 files (which held such timers) are read and their timers
dropped; they are written back as version 2.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dctenant.domain import usage
from dctenant.errors import UserError

VERSION = 2
READABLE = (1, 2)


@dataclass(frozen=True, kw_only=True)
class Saved:
    """The engine's memory plus, per namespace, what the actions replaced (plain JSON values)."""

    memory: usage.Memory = field(default_factory=usage.Memory)
    replaced: Mapping[str, Any] = field(default_factory=dict)


def state_dir() -> pathlib.Path:
    base = os.environ.get("XDG_STATE_HOME") or str(pathlib.Path.home() / ".local" / "state")
    return pathlib.Path(base) / "dctenant"


def default_path(pools: Sequence[str]) -> pathlib.Path:
    name = "-".join(sorted(pools)) if pools else "all"
    return state_dir() / f"enforcer-{name}.json"


def load(path: pathlib.Path) -> Saved:
    """The saved state, or an empty one when the file does not exist yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Saved()
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the enforcer's state: {exc} (move the file away to start afresh)",
                        location=str(path)) from None
    if not isinstance(data, dict) or data.get("version") not in READABLE:
        raise UserError(f"not an enforcer state file of version {' or '.join(map(str, READABLE))}",
                        location=str(path))
    tracks = {}
    for item in data.get("tracks") or ():
        key = (str(item["tenant"]), str(item["pool"]), str(item["resource"]))
        tracks[key] = usage.Track.from_dict(item)
    return Saved(memory=usage.Memory(tracks=tracks), replaced=dict(data.get("replaced") or {}))


def save(path: pathlib.Path, saved: Saved) -> None:
    """Write atomically: a temporary file in the same directory, flushed, then renamed over the old one."""
    data = {
        "version": VERSION,
        "tracks": [{"tenant": t, "pool": p, "resource": r, **track.as_dict()}
                   for (t, p, r), track in sorted(saved.memory.tracks.items())],
        "replaced": saved.replaced,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

