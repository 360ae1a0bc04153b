"""The error types dctenant raises, so that the CLI can tell the user's mistakes from ours.

Only ``dctenant.cli.main`` catches these: it prints one red line per problem on stderr and
exits 1. A ``UserError`` carries where the problem is (``FILE:LINE FIELD.PATH``) so that the
message can be acted upon without reading a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass


class DctenantError(Exception):
    """Base class of every error dctenant raises on purpose."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One problem found in the user's input: where it is, what is wrong, and how to fix it."""

    file: str
    line: int | None
    field: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class UserError(DctenantError):
    """Bad input: a message and, where known, its location (``FILE:LINE FIELD.PATH``)."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ValidationError(UserError):
    """Several problems in the input files, all reported together."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{len(problems)} {noun} found")
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class InfeasibleError(DctenantError):
    """The request cannot be met within capacity (e.g. guarantees under ``--strict``)."""


class BackendError(DctenantError):
    """A backend (Kubernetes, Prometheus, Pulumi, a database) is unreachable or answered badly."""


def missing(what: str) -> BackendError:
    """The error for a row or value that a step just wrote or checked and then could not read back.

    These are checks that must hold whatever ``python -O`` does, so they raise instead of asserting.
    """
    return BackendError(f"internal error: {what} vanished between writing and reading it; nothing further was done")


def suggestion(word: str, choices: Collection[str]) -> str | None:
    """A "did you mean" hint for a misspelt name, or ``None``: every layer words hints the same way."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else None
