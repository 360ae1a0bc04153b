"""Load what-if's edited copy of ``quotas/`` by reading again only what the edits changed.

The edited copy's result is defined as ``loading.load_texts`` of its files: the one loader, the same
rules. On 10,000 tenants that load walks every file again (the parse memo, a field reader, the lines
of every namespace and domain) although a typical edit changes one tier or one tenant: 0.7 s of a
what-if. ``load_edited`` builds the same ``Quotas`` from what the loader already vouched for:

- ``datacentre.yaml`` and ``policy.yaml`` are loaded again by their own loaders (two files);
- a tenant file whose text is unchanged, under the same context (``loading.tenant_context``: the
  tiers, the pools and their resources, the storage classes), is the very ``Tenant`` the loader made
  of it before without a problem (``loading.cached_tenant``), which is what the loader itself reuses;
- any other tenant file is loaded by ``tenant_files.load``, the loader's own function;
- the checks between tenants (namespace names, id prefixes, domains) are the loader's (``loading.clashes``).

At the first problem of any kind it gives up and returns ``None``: the caller then loads the whole
copy with ``loading.load_texts``, which reports every problem in the loader's own words (file, line,
field and fix) and in the loader's order. So an edit is refused exactly as the loader would refuse
the edited files, and nothing is built halfway: the result is a new value or nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import NoReturn

from dctenant.domain import quotas, tenants
from dctenant.loaders import datacentres, documents, loading, policy_files, tenant_files
from dctenant.loaders.fields import Reader

TENANT_FILE = re.compile(r"tenants/[^/]+\.ya?ml")  # the files the loader takes as tenants (loading._load)
DATACENTRE = "datacentre.yaml"
POLICY = "policy.yaml"


def load_edited(path: str, texts: Mapping[str, str]) -> quotas.Quotas | None:
    """``loading.load_texts(path, texts)`` when that loads without a problem; ``None`` when this cannot
    vouch for it (any problem at all), and the caller must load the texts in full to word the problems."""
    if DATACENTRE not in texts or POLICY not in texts:
        return None
    reader = _reader(path, DATACENTRE, texts)
    incomplete: set[str] = set()
    datacentre = None if reader is None else datacentres.load(reader, incomplete=incomplete)
    if datacentre is None or reader is None or reader.problems or incomplete:
        return None
    reader = _reader(path, POLICY, texts)
    policy = None if reader is None else policy_files.load(reader)
    if policy is None or reader is None or reader.problems:
        return None
    context = loading.tenant_context(datacentre, policy, incomplete)
    loaded: list[tenants.Tenant] = []
    stems: set[str] = set()
    # The loader's order: tenant files sorted by path (all in tenants/, so by name).
    for rel in sorted(r for r in texts if TENANT_FILE.fullmatch(r)):
        stem = rel.removeprefix("tenants/").rpartition(".")[0]  # pathlib's stem of a .yaml/.yml name
        if stem in stems:
            return None  # x.yaml and x.yml: the loader reports a duplicate tenant id
        stems.add(stem)
        tenant = loading.cached_tenant(texts[rel], stem, context)
        if tenant is None:
            reader = _reader(path, rel, texts)
            if reader is None:
                return None
            tenant = tenant_files.load(reader, stem=stem, datacentre=datacentre, policy=policy,
                                       incomplete=incomplete)
            if tenant is None or reader.problems:
                return None
        loaded.append(tenant)
    if _clash(loaded):
        return None
    sources = {rel: texts[rel] for rel in sorted(texts) if rel in (DATACENTRE, POLICY) or TENANT_FILE.fullmatch(rel)}
    return quotas.Quotas(datacentre=datacentre, policy=policy, tenants=tuple(loaded), sources=sources)


def _reader(path: str, rel: str, texts: Mapping[str, str]) -> Reader | None:
    document, problems = documents.parse(texts[rel], display=os.path.join(path, rel))
    return None if document is None or problems else Reader(document)


class _ClashError(Exception):
    """Raised by ``_Unread`` when a check between tenants found a problem and went to word it."""


class _Unread(Mapping[str, NoReturn]):
    """Where each tenant's file, namespaces and domains are, which ``loading.clashes`` reads only to word
    a problem it found: here, reading it means a problem, and the full load will word it."""

    def __getitem__(self, key: str) -> NoReturn:
        raise _ClashError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _clash(loaded: list[tenants.Tenant]) -> bool:
    unread = _Unread()
    try:
        return bool(loading.clashes(loaded, unread, unread, unread))
    except _ClashError:
        return True
