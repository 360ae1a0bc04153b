"""Read one YAML file safely and remember the line of every field.

The files in ``quotas/`` are edited by hand and reviewed in pull requests, so every error must
name the file, the line and the field. PyYAML's composer gives each node its position; this
module builds plain Python data from the nodes and, beside it, a map from field path to line.
It also refuses what a hand-written quota file never needs: files over 1 MiB, text that is not
UTF-8, several documents in one file, a key given twice in one mapping (the first value would
silently be lost), and aliases that expand beyond a small budget (a "billion laughs" file would
otherwise take the loader's memory and time).
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from dctenant.errors import Problem

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_TAGS: dict[str, str] = {}  # plain scalar text -> its implicit tag (see _Loader.resolve)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when installed) with a memo of implicit tags.

    For every plain scalar the composer asks ``resolve`` for its tag, which runs a few regular
    expressions in Python; quota files repeat the same keys and values thousands of times. The
    safe loader has no path resolvers, so the tag depends on the text alone and can be kept.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return _STR  # quoted: a string, as the base class would say without path resolvers
            tag = _TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_TAGS) < 100_000:
                    _TAGS[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """No path resolvers: nothing to track (the base class checks that on every node)."""

    def ascend_resolver(self) -> None:
        """No path resolvers: nothing to track."""


@dataclass(frozen=True, kw_only=True)
class Document:
    """A parsed YAML file: its data and the line (1-based) of each field path."""

    file: str
    data: Any
    lines: Mapping[Path, int]
    text: str = ""  # the file as read (UTF-8), for consumers that must pass on the reviewed text

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


class _TooLargeError(Exception):
    pass


class _Builder:
    """Builds plain data from composed nodes, counting nodes so that aliases cannot explode."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.budget = MAX_NODES
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLargeError
        lines = self.lines
        if path not in lines:
            lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                child = (*path, str(key))
                if key in out:
                    self.problems.append(Problem(
                        file=self.file, line=key_node.start_mark.line + 1, field=_dotted(child),
                        message=f'"{key}" is given twice in this mapping (first on line {lines[child]})',
                        hint="keep one of them; YAML would silently drop the first"))
                    continue
                lines[child] = key_node.start_mark.line + 1
                if isinstance(value_node, yaml.ScalarNode):
                    # Most values are scalars: built here, without a call per value. Their line
                    # is the key's, already recorded.
                    self.budget -= 1
                    if self.budget < 0:
                        raise _TooLargeError
                    out[key] = value_node.value if value_node.tag == _STR else self.scalar(value_node)
                else:
                    out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR:
            # Most scalars are strings, whose value is the node's text: skipping the generic
            # constructor's bookkeeping for them halves the time to build a document.
            return node.value
        try:
            return self.constructor.construct_object(node, deep=False)
        except (ValueError, OverflowError):
            # PyYAML raises a bare ValueError for text that looks like a date but is not one
            # ("2022-13-01") and for integers beyond Python's 4300-digit limit. Keeping the text
            # lets the field's reader report it with its field path instead of crashing.
            return node.value


def _dotted(path: Path) -> str:
    """``("spec", "pools", 0, "name")`` → ``spec.pools[0].name`` (``fields.dotted`` re-exports it)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def read(path: pathlib.Path, *, display: str) -> tuple[Document | None, tuple[Problem, ...]]:
    """Read and parse one YAML file; on failure return the problems instead of a document."""

    def fail(message: str, *, line: int | None = None, hint: str | None = None) -> tuple[None, tuple[Problem]]:
        return None, (Problem(file=display, line=line, field="", message=message, hint=hint),)

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return fail(f"file is {size} bytes, over the 1 MiB limit", hint="split it into smaller files")
        raw = path.read_bytes()
    except OSError as exc:
        return fail(f"cannot read file: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return fail(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            line=line,
            hint="save the file as UTF-8",
        )
    return parse(text, display=display)


# Parsed documents by their text, so that loading the same files again (what-if's edited copy, in which
# all but the edited files are unchanged, or the next request of a long-running server) does not parse
# them again. Only documents without a problem are kept, and their data is shared: by contract nobody
# mutates a Document's data (what-if copies a document before editing it). Bounded: cleared when full.
_PARSED: dict[str, tuple[Any, Mapping[Path, int]]] = {}
PARSED_MAX = 60_000


def forget() -> None:
    """Drop the parsed documents kept from earlier reads."""
    _PARSED.clear()


def parse(text: str, *, display: str) -> tuple[Document | None, tuple[Problem, ...]]:
    """Parse the text of one YAML file (``display`` names it in problems); the rules of ``read``."""
    known = _PARSED.get(text)
    if known is not None:
        return Document(file=display, data=known[0], lines=known[1], text=text), ()

    def fail(message: str, *, line: int | None = None, hint: str | None = None) -> tuple[None, tuple[Problem]]:
        return None, (Problem(file=display, line=line, field="", message=message, hint=hint),)

    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        return fail(f"file is {size} bytes, over the 1 MiB limit", hint="split it into smaller files")
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return fail("file is empty", hint="add an apiVersion, kind, metadata and spec, or delete the file")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.composer.ComposerError as exc:
        mark = exc.problem_mark
        if exc.problem != "but found another document":
            # The composer also rejects an undefined alias or a duplicate anchor; for the latter
            # PyYAML puts the reason in the context ("found duplicate anchor; first occurrence").
            reason = exc.context.split(";")[0] if exc.context else exc.problem
            where = f" (column {mark.column + 1})" if mark else ""
            return fail(f"YAML syntax error: {reason}{where}", line=mark.line + 1 if mark else None)
        return fail(
            "the file holds more than one YAML document",
            line=mark.line + 1 if mark else None,
            hint="keep one document per file",
        )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (column {mark.column + 1})" if mark else ""
        return fail(f"YAML syntax error: {exc.problem}{where}", line=mark.line + 1 if mark else None)
    except yaml.reader.ReaderError as exc:
        # A control character: PyYAML reports its offset (in bytes or characters, depending on
        # the parser), so the line is found from the character itself.
        at = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
        return fail(f"YAML syntax error: {exc.reason} (character U+{exc.character:04X})"
                    if isinstance(exc.character, int) else f"YAML syntax error: {exc.reason}",
                    line=text.count("\n", 0, at) + 1 if at >= 0 else None,
                    hint="remove the character, or write it as an escape in a double-quoted string")
    finally:
        loader.dispose()
    if node is None:
        return fail("file is empty", hint="add an apiVersion, kind, metadata and spec, or delete the file")
    builder = _Builder(display)
    try:
        data = builder.build(node, ())
    except _TooLargeError:
        return fail(
            f"YAML aliases expand to more than {MAX_NODES} nodes",
            hint="write the values out instead of nesting aliases (anchors and aliases are not needed here)",
        )
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        return fail(f"YAML value error: {exc.problem}", line=mark.line + 1 if mark else None)
    if not builder.problems:
        if len(_PARSED) >= PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = (data, builder.lines)
    return Document(file=display, data=data, lines=builder.lines, text=text), tuple(builder.problems)
