"""The envelope every ``quotas/`` document shares: apiVersion, kind, metadata and spec."""

from __future__ import annotations

from typing import Any

from dctenant.domain import pools
from dctenant.loaders.fields import Reader

API_VERSION = "dctenant.io/v1alpha1"
KINDS = ("DataCentre", "Policy", "Tenant")


def read(reader: Reader, *, kind: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Check apiVersion and kind; return (metadata, spec) or ``None`` when the document is unusable."""
    top = reader.mapping((), reader.document.data, required=("apiVersion", "kind", "metadata", "spec"))
    if top is None:
        return None
    if "apiVersion" in top and top["apiVersion"] != API_VERSION:
        reader.report(("apiVersion",), f"unsupported apiVersion {top['apiVersion']!r}", hint=f"write {API_VERSION}")
    if "kind" in top and top["kind"] != kind:
        reader.report(("kind",), f"expected kind {kind} in this file, got {top['kind']!r}",
                      hint=f"write kind: {kind}, or move the document to the right file")
        return None
    metadata = reader.mapping(("metadata",), top.get("metadata", {}), required=("name",), optional=("displayName",))
    spec = reader.mapping(("spec",), top.get("spec", {}))
    if metadata is None or spec is None:
        return None
    return metadata, spec


def display_name(reader: Reader, path: tuple[str, ...], raw: Any, *, fallback: str) -> pools.DisplayName:
    """An English and Persian name; both are required where a display name is given."""
    fields = reader.mapping(path, raw, required=("en", "fa"))
    if fields is None:
        return pools.DisplayName(en=fallback, fa=fallback)
    en = reader.string((*path, "en"), fields.get("en", fallback)) or fallback
    fa = reader.string((*path, "fa"), fields.get("fa", fallback)) or fallback
    return pools.DisplayName(en=en, fa=fa)
