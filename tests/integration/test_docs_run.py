"""Every shell command in README.md and docs/*.md runs as written, or its block says why it cannot.

The commands are discovered at collection time (other areas add commands to the docs; each one
becomes a test case named after its file and line). A command is a line of a fenced code block
(``sh``, ``bash``, ``shell``, ``console`` or unlabelled) whose first word is a program. Inline code
in prose is a mention, not a command to paste, and is not run. Each command line is one of:

* a **synopsis** (it has ``[optional]`` parts, ``A|B`` alternatives, ``…`` or capitalised values to
  fill in such as ``PATH`` or ``URL``): not run, but its command and every ``--option`` it names
  must exist in the CLI;
* in a block marked ``<!-- needs: cluster -->`` or ``<!-- needs: pulumi -->`` (the line before the
  fence): it cannot run here; dctenant lines are checked like a synopsis;
* in a block marked ``<!-- run-by: FILE -->``: run by that file (CI's ``.ci/run``, the sandbox
  test), which must contain the line;
* otherwise **run**, in bash, in a scratch directory holding a copy of the example, with the
  environment of a sandbox this module starts (emulated clusters, Prometheus, the self-service API,
  a tenant token: ``source .sandbox/env`` lines stand for it). It must exit 0 (or 3 with
  ``--exit-code``) without a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator

import click
import pytest

from dctenant.cli.main import cli

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = ("", "sh", "bash", "shell", "console")
PROGRAMS = ("dctenant", "bash", "sh", "pulumi", "kubectl", "promtool", "python", "python3", "curl", "source",
            "export", "eval")
MARKER = re.compile(r"<!--\s*(needs|run-by):\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
NEEDS = ("cluster", "pulumi")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Command:
    doc: str
    line: int
    text: str  # the command without its trailing comment
    marker: tuple[str, str] | None  # ("needs", "cluster"), ("run-by", ".ci/run") or None

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def _strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (outside quotes)."""
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.strip()


def discover() -> list[Command]:
    found: list[Command] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        doc = str(path.relative_to(ROOT))
        for fence in FENCE.finditer(text):
            if fence.group(1) not in SHELL_LANGUAGES:
                continue
            before = text[:fence.start()].rstrip().rsplit("\n", 1)[-1]
            mark = MARKER.search(before)
            marker = (mark.group(1), mark.group(2)) if mark else None
            first_line = text.count("\n", 0, fence.start(2)) + 1
            for offset, raw in enumerate(fence.group(2).splitlines()):
                line = raw.strip().removeprefix("$ ")
                if line.split(" ", 1)[0] not in PROGRAMS:
                    continue
                found.append(Command(doc=doc, line=first_line + offset, text=_strip_comment(line), marker=marker))
    return found


COMMANDS = discover()
PLACEHOLDER = re.compile(r"\[|(?<![|&])\|(?![|&])|…|\.\.\.|<[\w-]+>|\b[A-Z][A-Z0-9_]*\b")


def _unquoted(text: str) -> str:
    return re.sub(r"\"[^\"]*\"|'[^']*'|\$\([^)]*\)|\$\{?[A-Za-z_]+\}?", "", text)


def is_synopsis(command: Command) -> bool:
    return bool(PLACEHOLDER.search(_unquoted(command.text)))


def runnable(command: Command) -> bool:
    return command.marker is None and not is_synopsis(command) and command.text.split()[0] != "source"


# The synopsis check -----------------------------------------------------------------------------

def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The (sub)command a synopsis names and the words after it (first alternative of ``A|B``)."""
    command: click.Command = cli
    rest = words
    while rest and isinstance(command, click.Group):
        name = rest[0].split("|")[0]
        sub = command.get_command(click.Context(command), name)
        if sub is None:
            break
        command, rest = sub, rest[1:]
    return command, rest


def _options(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def check_synopsis(command: Command) -> None:
    """Each dctenant invocation on the line names a real command and only options it has."""
    for part in re.split(r"\s(?:·|&&|;)\s|\$\(", command.text):
        words = part.strip().strip('"').split()
        if not words or words[0] != "dctenant":
            continue
        target, rest = _resolve(words[1:])
        assert target is not cli or not rest or rest[0].startswith("-"), f"{command.id}: no command {rest[0]!r}"
        known = _options(target) | _options(cli)
        for word in rest:
            for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", word):
                if option in ("-", "--"):
                    continue
                assert option in known, f"{command.id}: `{command.text}` names {option}, which " \
                                        f"`dctenant {target.name}` does not have"


@pytest.mark.parametrize("command", [c for c in COMMANDS if not runnable(c)], ids=lambda c: c.id)
def test_a_command_not_run_here_is_marked_and_names_real_options(command: Command) -> None:
    first = command.text.split()[0]
    if command.marker and command.marker[0] == "run-by":
        runner = ROOT / command.marker[1]
        assert runner.is_file(), f"{command.id}: run-by names {command.marker[1]}, which does not exist"
        assert command.text in runner.read_text(encoding="utf-8"), \
            f"{command.id}: `{command.text}` is said to be run by {command.marker[1]}, which does not contain it"
        return
    if command.marker:
        assert command.marker == ("needs", command.marker[1]) and command.marker[1] in NEEDS, \
            f"{command.id}: unknown marker {command.marker}; use needs: {' or '.join(NEEDS)}, or run-by: FILE"
    if first == "dctenant":
        check_synopsis(command)
    elif first in ("bash", "sh"):
        assert command.marker is not None, f"{command.id}: `{command.text}` must be run or marked run-by"
    else:
        assert command.marker is not None or first == "source", \
            f"{command.id}: `{command.text}` is not run here: mark its block with <!-- needs: … -->"


def test_commands_are_found_in_every_kind_of_block() -> None:
    # A parser that finds nothing would pass everything: the docs hold dozens of commands.
    assert len(COMMANDS) >= 30
    assert sum(runnable(c) for c in COMMANDS) >= 5
    assert any(c.marker and c.marker[0] == "needs" for c in COMMANDS)
    assert is_synopsis(Command(doc="x", line=1, text="dctenant plan [PATH]", marker=None))
    assert is_synopsis(Command(doc="x", line=1, text="dctenant snapshot --period 2026-10 --prometheus URL",
                               marker=None))
    assert not is_synopsis(Command(doc="x", line=1, text="dctenant plan quotas/ --at 2026-11-27", marker=None))
    assert not is_synopsis(Command(doc="x", line=1, text='eval "$(dctenant completion bash)"', marker=None))
    assert _strip_comment("dctenant diff   # the clusters match") == "dctenant diff"


def test_the_synopsis_check_catches_an_option_that_does_not_exist() -> None:
    with pytest.raises(AssertionError, match="--colour"):
        check_synopsis(Command(doc="x", line=1, text="dctenant plan [PATH] [--colour]", marker=None))
    with pytest.raises(AssertionError, match="--period"):
        check_synopsis(Command(doc="x", line=1, text="dctenant audit verify|log --period P", marker=None))


# Running the rest --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pathlib.Path, dict[str, str]]]:
    """A scratch copy of the example and the environment of a running sandbox."""
    work = tmp_path_factory.mktemp("docs")
    for name in ("quotas", "stacks", "dashboards", "docs"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    state = work / ".sandbox"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DCTENANT_PYTHON": sys.executable, "COLUMNS": "100"}
    script = [sys.executable, str(ROOT / "scripts" / "sandbox.py")]
    up = subprocess.run([*script, "up", "--dir", str(state), "--quotas", str(work / "quotas")], env=env,
                        capture_output=True, text=True, check=False, timeout=600)
    try:
        assert up.returncode == 0, up.stderr
        for line in (state / "env").read_text(encoding="utf-8").splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value, comments=True)[0]
        yield work, env
    finally:
        subprocess.run([*script, "down", "--dir", str(state)], env=env, capture_output=True, check=False,
                       timeout=120)


@pytest.mark.parametrize("command", [c for c in COMMANDS if runnable(c)], ids=lambda c: c.id)
def test_a_documented_command_runs_as_written(command: Command,
                                              sandbox: tuple[pathlib.Path, dict[str, str]]) -> None:
    work, env = sandbox
    assert command.text.split()[0] not in ("bash", "sh"), \
        f"{command.id}: scripts are run by CI or their own test: mark the block <!-- run-by: FILE -->"
    path = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(["bash", "-c", command.text], cwd=work, env={**env, "PATH": path},
                          capture_output=True, text=True, check=False, timeout=300)
    allowed = (0, 3) if "--exit-code" in command.text else (0,)
    assert proc.returncode in allowed, f"{command.id}: `{command.text}` exited {proc.returncode}\n" \
                                       f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
