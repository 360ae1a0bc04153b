"""Typed field readers that collect every problem of a document instead of stopping at the first.

Each reader takes the field's path and raw value, returns the converted value or ``None``, and
records a ``Problem`` naming the file, line and field path when the value is wrong. Loaders
therefore read a whole file, then report everything at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from dctenant.domain import quantities
from dctenant.errors import Problem, suggestion
from dctenant.loaders import documents
from dctenant.loaders.documents import Document, Path

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def dotted(path: Path) -> str:
    """``("spec", "pools", 0, "name")`` → ``spec.pools[0].name``."""
    return documents._dotted(path)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", dt.date: "a date"}.get(type(value), type(value).__name__)


class Reader:
    """Reads fields of one document and collects its problems."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []
        # Paths of required fields reported missing: a loader that goes on to read such a field
        # sees None, and reporting "expected a string, got nothing" there as well would say the
        # same thing twice.
        self.missing: set[Path] = set()

    def report(self, path: Path, message: str, hint: str | None = None) -> None:
        if any(path[:end] in self.missing for end in range(1, len(path) + 1)):
            return
        self.problems.append(
            Problem(file=self.document.file, line=self.document.line(path), field=dotted(path),
                    message=message, hint=hint)
        )

    def mapping(
        self, path: Path, value: Any, *, required: Collection[str] = (), optional: Collection[str] = ()
    ) -> dict[str, Any] | None:
        """A mapping with the given fields; reports unknown fields (with a hint) and missing ones."""
        if not isinstance(value, dict):
            self.report(path, f"expected a mapping, got {_type_name(value)}")
            return None
        known = set(required) | set(optional)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.report((*path, str(key)), f"field names must be strings, got {_type_name(key)}",
                            hint="quote the name")
            elif known and key not in known:
                hint = suggestion(key, known) or "known fields: " + ", ".join(sorted(known))
                self.report((*path, key), f'unknown field "{key}"', hint=hint)
            else:
                out[key] = item
        for key in required:
            if key not in value:
                self.report(path, f'missing required field "{key}"')
                self.missing.add((*path, key))
        return out

    def sequence(self, path: Path, value: Any) -> list[Any] | None:
        if not isinstance(value, list):
            self.report(path, f"expected a list, got {_type_name(value)}", hint="write it as a YAML list (- item)")
            return None
        return value

    def string(self, path: Path, value: Any, *, empty: bool = False) -> str | None:
        if not isinstance(value, str):
            self.report(path, f"expected a string, got {_type_name(value)}", hint="quote the value")
            return None
        if not empty and not value.strip():
            self.report(path, "must not be empty")
            return None
        return value

    def name(self, path: Path, value: Any, *, subdomain: bool = False, max_length: int = 63) -> str | None:
        """A Kubernetes DNS-1123 label (or subdomain) name."""
        text = self.string(path, value)
        if text is None:
            return None
        pattern = DNS1123_SUBDOMAIN if subdomain else DNS1123_LABEL
        if not pattern.fullmatch(text) or len(text) > max_length:  # match's "$" passes "name\n"
            fixed = re.sub(r"[^a-z0-9.-]+" if subdomain else r"[^a-z0-9-]+", "-", text.lower()).strip("-.")
            self.report(
                path,
                f'"{text}" is not a DNS-1123 {"subdomain" if subdomain else "label"} '
                f"(lower-case letters, digits and '-', at most {max_length} characters)",
                hint=f'for example "{fixed[:max_length].strip("-") or "a"}"',
            )
            return None
        return text

    def integer(self, path: Path, value: Any, *, minimum: int = 0) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(path, f"expected a whole number, got {_type_name(value)}")
            return None
        if value < minimum:
            self.report(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def ratio(self, path: Path, value: Any, *, minimum: Decimal = Decimal(0)) -> Decimal | None:
        """A plain decimal number (``2``, ``"1.5"``) at least ``minimum``."""
        # A Decimal never comes from YAML, but loaders pass their defaults through here as Decimals.
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            self.report(path, f"expected a number, got {_type_name(value)}")
            return None
        try:
            number = quantities.parse_ratio(value)
        except (quantities.QuantityError, InvalidOperation) as exc:
            self.report(path, str(exc))
            return None
        if number < minimum:
            self.report(path, f"must be at least {minimum}, got {value}")
            return None
        return number

    def fraction(self, path: Path, value: Any) -> Decimal | None:
        """A share between 0 and 1, written as a percentage (``"50%"``) or a decimal (``0.5``)."""
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                return quantities.parse_percent(value)
            except quantities.QuantityError as exc:
                self.report(path, str(exc))
                return None
        number = self.ratio(path, value)
        if number is not None and number > 1:
            self.report(path, f"must be between 0 and 1, got {value}",
                        hint=f'write a percentage such as "{min(number, Decimal(100))}%"')
            return None
        return number

    def date(self, path: Path, value: Any) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.report(path, f"expected a date, got {value!r}", hint="write it as YYYY-MM-DD, e.g. 2027-03-21")
        return None

    def choice(self, path: Path, value: Any, choices: Collection[str]) -> str | None:
        text = self.string(path, value)
        if text is None:
            return None
        if text not in choices:
            hint = suggestion(text, choices) or "one of: " + ", ".join(choices)
            self.report(path, f'"{text}" is not allowed', hint=hint)
            return None
        return text

    def duration(self, path: Path, value: Any) -> int | None:
        """A duration in seconds, written ``30s``, ``10m``, ``2h`` or ``1d``."""
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        if isinstance(value, str):
            match = re.fullmatch(r"(\d+)([smhd])", value.strip())
            if match:
                return int(match.group(1)) * units[match.group(2)]
        self.report(path, f"invalid duration {value!r}",
                    hint='write a whole number and a unit: "30s", "10m", "2h", "1d"')
        return None
