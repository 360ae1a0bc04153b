"""Self-service use-cases: tokens, a tenant's namespaces, usage and quota-increase requests.

Every front end (the HTTP API in ``dctenant.api``, the benchmark's in-process calls) goes through
``SelfService``; the decision itself is ``selfservice_decisions.decide``. The order of a create is what makes
the envelope hold under concurrency: reserve in one per-tenant database transaction (decided
there, against every reservation), apply to the cluster, then mark active and write the audit
event; a failed apply deletes what it created and releases the reservation. Nothing here knows
HTTP: refusals are ``selfservice_decisions.RefusedError`` with a status the API turns into a problem document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import pathlib
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dctenant.clients import kube, selfservice_db
from dctenant.domain import allocations, audit_events, changes, quotas, resources, usage
from dctenant.errors import BackendError, missing
from dctenant.ops import increasing, planning, selfservice_decisions
from dctenant.ops.selfservice_decisions import RefusedError

TOKEN_PREFIX = "dct"
AUDITOR = "auditor"  # the read-only role: reads every tenant's data, writes nothing
MAX_TOKEN_DAYS = 3650
REQUESTED = audit_events.INCREASE_REQUESTED
APPROVED = audit_events.INCREASE_APPROVED
REJECTED = audit_events.INCREASE_REJECTED
TOKEN_CREATED = audit_events.TOKEN_CREATED
TOKEN_REVOKED = audit_events.TOKEN_REVOKED
# "No change without its event": a change's intent is in the ledger before the store commits it or
# the cluster sees it; its outcome (namespace-created, quota-changed, namespace-deleted, or
# change-failed) after.
INTENDED = audit_events.CHANGE_INTENDED
FAILED = audit_events.CHANGE_FAILED
# Idempotency keys are kept this long after their first use; a key is live in [first use, first
# use + retention) and is a new key afterwards.
IDEMPOTENCY_RETENTION = dt.timedelta(hours=24)
_TOKEN = re.compile(rf"{TOKEN_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,100}})")

log = logging.getLogger("dctenant.selfservice")

Measure = Callable[[Mapping[str, str], dt.datetime], usage.Usage]
Connect = Callable[[str], kube.Cluster]


@dataclass(frozen=True, kw_only=True)
class Identity:
    """Who is calling: a token scoped to one tenant, a staff token, or a read-only auditor token.

    Staff and auditor tokens both have ``tenant`` None; ``role`` tells them apart.
    """

    token: str
    tenant: str | None
    role: str | None = None

    @property
    def auditor(self) -> bool:
        return self.role == AUDITOR

    @property
    def staff(self) -> bool:
        return self.tenant is None and not self.auditor

    @property
    def scope(self) -> str:
        return AUDITOR if self.auditor else "staff" if self.staff else "tenant"

    @property
    def actor(self) -> str:
        """How the ledger names the caller: the token's id and scope, never its secret."""
        return f"token:{self.token} ({'tenant ' + str(self.tenant) if self.tenant else self.scope})"


LOCAL = Identity(token="local", tenant=None)


@dataclass(frozen=True, kw_only=True)
class Overview:
    """What ``SelfService.overview`` gathers for one tenant."""

    model: quotas.Quotas
    allocation: allocations.Allocation
    envelope: dict[str, Any]
    namespaces: list[dict[str, Any]]
    requests: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Issued:
    """A new token: the row as stored and the one time the full secret is shown."""

    row: selfservice_db.TokenRow
    secret: str


class SelfService:
    """The service's state: where quotas/ is, the store, the ledger, the clusters and the clock."""

    def __init__(self, *, quotas_path: str, store: selfservice_db.Store, ledger: Any,
                 connect: Connect | None = None, kubeconfig: str | None = None, measure: Measure | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.quotas_path = quotas_path
        self.store = store
        self.ledger = ledger
        self.measure = measure
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._kubeconfig = kubeconfig
        self._connect = connect
        self._clusters: dict[str, kube.Cluster] = {}
        self._lock = threading.Lock()
        self._loaded: tuple[Any, quotas.Quotas] | None = None
        self._cached: tuple[Any, quotas.Quotas, allocations.Allocation] | None = None

    def close(self) -> None:
        for cluster in self._clusters.values():
            cluster.close()
        self.store.close()

    # The model: quotas/ as loaded, with the approved increases of the database laid over it.
    # Reloaded when quotas/ changes, an increase is approved or exported, or the day turns.

    def loaded(self) -> quotas.Quotas:
        """``quotas/`` as the loader reads it, without approved increases."""
        from dctenant.loaders import loading

        key = _signature(pathlib.Path(self.quotas_path))
        cached = self._loaded
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:
            model = loading.load(self.quotas_path)
            self._loaded = (key, model)
        return model

    def model(self) -> tuple[quotas.Quotas, allocations.Allocation]:
        today = self.clock().date()
        with self.store.read() as tx:
            approved = tx.approved()
        base = self.loaded()
        key = (today, id(base), tuple(r.id for r in approved))
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        model = increasing.overlay(base, approved)
        allocation = planning.allocate(model, at=today)
        with self._lock:
            self._cached = (key, model, allocation)
        return model, allocation

    def cluster(self, pool: str) -> kube.Cluster:
        context = self.loaded().datacentre.pool(pool).context  # approvals never move a pool
        with self._lock:
            if context not in self._clusters:
                self._clusters[context] = (self._connect(context) if self._connect
                                           else kube.connect(context=context, kubeconfig=self._kubeconfig))
            return self._clusters[context]

    # Tokens

    def authenticate(self, header: str | None) -> Identity:
        """The identity of an ``Authorization: Bearer`` header; ``RefusedError`` 401 for anything else."""
        if not header:
            raise RefusedError(401, "Unauthorized", "this endpoint needs a bearer token (Authorization: Bearer ...)")
        scheme, _, text = header.partition(" ")
        match = _TOKEN.fullmatch(text.strip()) if scheme.lower() == "bearer" else None
        if match is None:
            raise RefusedError(401, "Unauthorized", "the bearer token is malformed")
        token_id, secret = match.groups()
        with self.store.read() as tx:
            row = tx.token(token_id)
        if row is None or not secrets.compare_digest(row.digest, selfservice_db.digest(salt=row.salt, secret=secret)):
            raise RefusedError(401, "Unauthorized", "the bearer token is not valid")
        if row.revoked_at is not None:
            raise RefusedError(401, "Unauthorized", f"token {token_id} was revoked")
        return self._live(row)

    def identify(self, token_id: str) -> Identity:
        """The identity of a token already authenticated once (a portal session), if it is still live."""
        with self.store.read() as tx:
            row = tx.token(token_id)
        if row is None:
            raise RefusedError(401, "Unauthorized", f"token {token_id} no longer exists")
        return self._live(row)

    def _live(self, row: selfservice_db.TokenRow) -> Identity:
        if row.revoked_at is not None:
            raise RefusedError(401, "Unauthorized", f"token {row.id} was revoked")
        if row.expires_at <= self.clock():
            raise RefusedError(401, "Unauthorized", f"token {row.id} expired on {row.expires_at:%Y-%m-%d %H:%M} UTC")
        return Identity(token=row.id, tenant=row.tenant, role=row.role)

    def create_token(self, who: Identity, *, tenant: str | None, days: int, note: str = "",
                     auditor: bool = False) -> Issued:
        staff_only(who)
        if auditor and tenant is not None:
            raise RefusedError(422, "Invalid scope", "an auditor token reads every tenant; it names no tenant")
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise RefusedError(422, "Invalid expiry", f"a token lasts 1 to {MAX_TOKEN_DAYS} days, not {days}")
        if tenant is not None:
            model, _ = self.model()
            if tenant not in {t.id for t in model.tenants}:
                raise RefusedError(404, "Unknown tenant", f"no tenant {tenant!r} in the data centre")
        now = self.clock()
        token_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
        row = selfservice_db.TokenRow(id=token_id, tenant=tenant, salt=salt,
                                    digest=selfservice_db.digest(salt=salt, secret=secret), created_at=now,
                                    expires_at=now + dt.timedelta(days=days), created_by=who.actor, note=note[:500],
                                      role=AUDITOR if auditor else None)
        with self.store.transaction() as tx:
            tx.add_token(row)
        self._record(TOKEN_CREATED, who, {"tenant": tenant or "", "token": token_id},
                     after={"scope": _scope(row), "expires": row.expires_at.isoformat()})
        return Issued(row=row, secret=f"{TOKEN_PREFIX}_{token_id}_{secret}")

    def tokens(self, who: Identity, *, tenant: str | None = None) -> list[dict[str, Any]]:
        staff_only(who)
        with self.store.transaction() as tx:
            rows = tx.tokens(tenant=tenant)
        now = self.clock()
        return [token_view(r, now=now) for r in rows]

    def revoke_token(self, who: Identity, token_id: str) -> dict[str, Any]:
        staff_only(who)
        now = self.clock()
        with self.store.transaction() as tx:
            row = tx.token(token_id)
            if row is None:
                raise RefusedError(404, "Unknown token", f"no token {token_id!r}")
            tx.revoke_token(token_id, at=now)
            row = tx.token(token_id)
        if row is None:
            raise missing(f"token {token_id}")
        self._record(TOKEN_REVOKED, who, {"tenant": row.tenant or "", "token": token_id})
        return token_view(row, now=now)

    # A tenant's envelope, namespaces and usage

    def envelope(self, who: Identity, tenant: str) -> dict[str, Any]:
        allowed(who, tenant)
        model, allocation = self.model()
        return selfservice_decisions.envelope(model, allocation, tenant=tenant, reserved=self._reserved(tenant))

    def namespaces(self, who: Identity, tenant: str) -> list[dict[str, Any]]:
        allowed(who, tenant)
        model, allocation = self.model()
        _known(model, tenant)
        with self.store.transaction() as tx:
            rows = tx.namespaces(tenant=tenant)
        return _namespace_views(allocation, tenant, rows)

    def overview(self, who: Identity, tenant: str) -> Overview:
        """A tenant's envelope, namespaces and requests from one model and one read (the portal's page).

        The same rules and values as ``envelope``, ``namespaces`` and ``requests``; asked together,
        quotas/ is checked for changes once, not three times (a thousand files' ``stat`` each time).
        """
        allowed(who, tenant)
        model, allocation = self.model()
        _known(model, tenant)
        with self.store.read() as tx:
            rows = tx.namespaces(tenant=tenant)
            requests = [request_view(r) for r in tx.requests(tenant=tenant)]
        envelope = selfservice_decisions.envelope(model, allocation, tenant=tenant, reserved=_reservations(rows))
        return Overview(model=model, allocation=allocation, envelope=envelope,
                        namespaces=_namespace_views(allocation, tenant, rows), requests=requests)

    def namespace(self, who: Identity, tenant: str, name: str) -> dict[str, Any]:
        found = [n for n in self.namespaces(who, tenant) if n["name"] == name]
        if not found:
            raise RefusedError(404, "Unknown namespace", f"tenant {tenant} has no namespace {name!r}")
        return found[0]

    def usage(self, who: Identity, tenant: str) -> dict[str, Any]:
        allowed(who, tenant)
        if self.measure is None:
            raise RefusedError(503, "Usage not available",
                          "the service was started without --prometheus, so it cannot report usage")
        model, allocation = self.model()
        _known(model, tenant)
        names = {g.namespace: g.pool for g in allocation.namespaces if g.tenant == tenant}
        names.update({r.name: r.pool for r in self._reserved(tenant)})
        measured = self.measure(names, self.clock())
        out: dict[str, Any] = {}
        for ns, pool in sorted(names.items()):
            keys = model.datacentre.pool(pool).resources
            out[ns] = {"pool": pool, "used": {k: (None if (v := measured.amount(ns, k)) is None else resources.plain(v))
                                              for k in keys},
                       "unknown": {k: why for k in keys if (why := measured.missing(ns, k))}}
        return {"tenant": tenant, "at": measured.at.isoformat(), "namespaces": out}

    def create(self, who: Identity, tenant: str, body: Mapping[str, Any], *,
               idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
        """Create a namespace: 201 and its view, or the first answer again for a retried key.

        The key's fingerprint is over the normalised request (``1Gi`` and ``1073741824`` are one
        request), and a replay returns the first answer as it was given, whatever happened since.
        """
        allowed(who, tenant, write=True)
        model, allocation = self.model()
        _known(model, tenant)
        fingerprint = _fingerprint(model, body)
        now = self.clock()
        with self.store.transaction(tenant=tenant) as tx:
            if idempotency_key:
                earlier = tx.idempotency(tenant=tenant, key=idempotency_key)
                if earlier is not None and earlier.created_at + IDEMPOTENCY_RETENTION > now:
                    return _replayed(earlier, fingerprint)
                tx.expire_idempotency(tenant=tenant, before=now - IDEMPOTENCY_RETENTION)
            decision = selfservice_decisions.decide(model, allocation, tenant=tenant, name=body.get("name"),
                                                    pool=body.get("pool"), quota=body.get("quota"),
                                                    reserved=_reservations(tx.namespaces()))
            row = selfservice_db.NamespaceRow(name=decision.name, tenant=tenant, pool=decision.pool,
                                              quota=selfservice_decisions.plain_quota(decision.quota),
                                              state="reserved", created_at=now, created_by=who.actor)
            tx.add_namespace(row)
            if idempotency_key:
                tx.add_idempotency(selfservice_db.IdempotencyRow(tenant=tenant, key=idempotency_key,
                                                                 fingerprint=fingerprint, namespace=decision.name,
                                                                 created_at=now))
            # Inside the transaction: if the ledger refuses the intent, nothing is reserved or applied.
            self._record(INTENDED, who, _subject(tenant, decision.name, decision.pool),
                         after={"change": audit_events.NAMESPACE_CREATED, "quota": dict(row.quota)},
                         reason="self-service create")
        try:
            self._apply_new(decision)
        except BaseException as exc:
            with self.store.transaction(tenant=tenant) as tx:
                tx.remove_namespace(decision.name)
                if idempotency_key:
                    tx.remove_idempotency(tenant=tenant, key=idempotency_key)
            self._failed(who, _subject(tenant, decision.name, decision.pool), audit_events.NAMESPACE_CREATED, exc)
            raise
        view = namespace_view(row, state="active")
        with self.store.transaction(tenant=tenant) as tx:
            tx.set_namespace(decision.name, quota=row.quota, state="active")
            if idempotency_key:
                tx.answer_idempotency(tenant=tenant, key=idempotency_key, status=201, response=view)
        self._record(audit_events.NAMESPACE_CREATED, who, _subject(tenant, decision.name, decision.pool),
                     after=dict(row.quota), reason="self-service")
        return 201, view

    def check_create(self, who: Identity, tenant: str, body: Mapping[str, Any]) -> selfservice_decisions.Decision:
        """Would this create fit now? The same decision as ``create``, without reserving or applying anything.

        The portal shows the answer before the user submits; ``create`` decides again under the lock.
        """
        allowed(who, tenant, write=True)
        model, allocation = self.model()
        _known(model, tenant)
        with self.store.read() as tx:
            reserved = _reservations(tx.namespaces())
        return selfservice_decisions.decide(model, allocation, tenant=tenant, name=body.get("name"),
                                            pool=body.get("pool"), quota=body.get("quota"), reserved=reserved)

    def resize(self, who: Identity, tenant: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Give a self-service namespace a new quota; both old and new stay reserved until applied."""
        allowed(who, tenant, write=True)
        model, allocation = self.model()
        _known(model, tenant)
        with self.store.transaction(tenant=tenant) as tx:
            current = _active(tx.namespace(name), tenant=tenant, name=name)
            decision = selfservice_decisions.decide(model, allocation, tenant=tenant, name=name, pool=current.pool,
                                                    quota=body.get("quota"), reserved=_reservations(tx.namespaces()),
                                                    resizing=True)
            new = selfservice_decisions.plain_quota(decision.quota)
            # While the cluster is changed, the larger of the two quotas stays reserved, so that a
            # concurrent create cannot take what a failed shrink would have to give back.
            both = selfservice_decisions.plain_quota(_larger(selfservice_decisions.decimal_quota(current.quota),
                                                             decision.quota))
            tx.set_namespace(name, quota=both, state="resizing")
            self._record(INTENDED, who, _subject(tenant, name, current.pool), before=dict(current.quota),
                         after={"change": audit_events.QUOTA_CHANGED, "quota": new}, reason="self-service resize")
        try:
            self._apply(decision.pool, decision.manifests[1:])  # the Namespace itself does not change
        except BaseException as exc:
            with self.store.transaction(tenant=tenant) as tx:
                tx.set_namespace(name, quota=current.quota, state="active")
            self._failed(who, _subject(tenant, name, current.pool), audit_events.QUOTA_CHANGED, exc)
            raise
        with self.store.transaction(tenant=tenant) as tx:
            tx.set_namespace(name, quota=new, state="active")
        self._record(audit_events.QUOTA_CHANGED, who, _subject(tenant, name, current.pool),
                     before=dict(current.quota), after=new, reason="self-service resize")
        return namespace_view(current, quota=new, state="active")

    def delete(self, who: Identity, tenant: str, name: str, *, force: bool = False) -> dict[str, Any]:
        """Delete a self-service namespace; one holding pods or PVCs only with ``force`` (recorded)."""
        allowed(who, tenant, write=True)
        model, _ = self.model()
        _known(model, tenant)
        with self.store.transaction(tenant=tenant) as tx:
            current = _active(tx.namespace(name), tenant=tenant, name=name)
            tx.set_namespace(name, quota=current.quota, state="deleting")
            self._record(INTENDED, who, _subject(tenant, name, current.pool), before=dict(current.quota),
                         after={"change": audit_events.NAMESPACE_DELETED, "force": force},
                         reason="self-service delete")
        try:
            cluster = self.cluster(current.pool)
            held = cluster.occupancy(name)
            if not held.empty and not force:
                raise RefusedError(409, "Namespace not empty",
                                   f"namespace {name} holds {held}; pass force=true to delete it with them")
            manifests = selfservice_decisions.render(model, tenant=tenant, name=name, pool=current.pool,
                                                     quota=selfservice_decisions.decimal_quota(current.quota))
            for manifest in reversed(manifests):
                meta = manifest["metadata"]
                cluster.delete(kind_name=manifest["kind"], name=meta["name"], namespace=meta.get("namespace"))
        except BaseException as exc:
            with self.store.transaction(tenant=tenant) as tx:
                tx.set_namespace(name, quota=current.quota, state="active")
            self._failed(who, _subject(tenant, name, current.pool), audit_events.NAMESPACE_DELETED, exc)
            raise
        with self.store.transaction(tenant=tenant) as tx:
            tx.remove_namespace(name)
        reason = f"self-service delete with force=true; it held {held}" if not held.empty else "self-service delete"
        self._record(audit_events.NAMESPACE_DELETED, who, _subject(tenant, name, current.pool),
                     before=dict(current.quota), reason=reason)
        return {**namespace_view(current, state="deleted"), "forced": not held.empty,
                "held": {"pods": held.pods, "persistentVolumeClaims": held.claims}}

    # Quota-increase requests: rows of the database that every replica sees.

    def file_request(self, who: Identity, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """File ``{pool, mode: add|to, amounts, reason}``: add amounts to the demand, or set it to them."""
        allowed(who, tenant, write=True)
        model, _ = self.model()
        _known(model, tenant)
        pool = selfservice_decisions.check_pool(model, body.get("pool"))
        mode = body.get("mode")
        if mode not in ("add", "to"):
            raise RefusedError(422, "Invalid request", "give add (a difference) or to (an absolute demand)")
        amounts = selfservice_decisions.read_quota(body.get("amounts"), model=model, pool=pool, where=str(mode))
        if not amounts:
            raise RefusedError(422, "Invalid demand", "name at least one resource to increase")
        current = model.tenant(tenant).demand.get(pool, {})
        increasing.next_demand(current, mode=str(mode), amounts=amounts)  # refuse a non-increase at once
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise RefusedError(422, "Missing reason", "say why the tenant needs more (reason)")
        now = self.clock()
        plain = selfservice_decisions.plain_quota(amounts)
        with self.store.transaction(tenant=tenant) as tx:
            request_id = tx.add_request(tenant=tenant, pool=pool, demand=plain, reason=reason[:2000], at=now,
                                        by=who.actor, mode=str(mode))
            row = tx.request(request_id)
            if row is None:
                raise missing(f"increase request {request_id}")
            self._record(REQUESTED, who, {"tenant": tenant, "pool": pool, "request": str(request_id)},
                         after={"mode": mode, "amounts": plain}, reason=reason[:2000])
        return request_view(row)

    def requests(self, who: Identity, *, tenant: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        if tenant is None:
            staff_only(who, read=True)
        else:
            allowed(who, tenant)
        if state is not None and state not in ("pending", "approved", "rejected"):
            raise RefusedError(422, "Invalid state", "state is one of pending, approved, rejected")
        with self.store.transaction() as tx:
            return [request_view(r) for r in tx.requests(tenant=tenant, state=state)]

    def decide_request(self, who: Identity, request_id: int, *, approve: bool, reason: str = "") -> dict[str, Any]:
        """Approve or reject a pending request, exactly once, under the tenant's reservation lock.

        An approval stores the resulting demand (validated like an edit of ``quotas/``) in the
        database; the next plan and every replica's envelopes take it in. ``quotas/`` itself is
        untouched until staff run ``dctenant request export``.
        """
        staff_only(who)
        with self.store.transaction() as tx:
            found = tx.request(request_id)
        if found is None:
            raise RefusedError(404, "Unknown request", f"no increase request {request_id}")
        with self.store.transaction(tenant=found.tenant) as tx:
            row = tx.request(request_id)
            if row is None:
                raise missing(f"increase request {request_id}")
            if row.state != "pending":
                raise RefusedError(409, "Already decided", f"request {request_id} was {row.state} already")
            before: dict[str, str] | None = None
            result: dict[str, str] | None = None
            if approve:
                before, result = self._approved_demand(row, tx.approved(tenant=row.tenant))
            if not tx.decide_request(request_id, state="approved" if approve else "rejected", by=who.actor,
                                     decision=reason[:2000], at=self.clock(), before=before, result=result):
                raise RefusedError(409, "Already decided", f"request {request_id} was decided meanwhile")
            decided = tx.request(request_id)
            if decided is None:
                raise missing(f"increase request {request_id}")
            # Inside the transaction: a decision the ledger did not record is not taken.
            self._record(APPROVED if approve else REJECTED, who,
                         {"tenant": row.tenant, "pool": row.pool, "request": str(request_id)},
                         before=before, after=result, reason=reason[:2000])
        self._cached = None
        return request_view(decided)

    def _approved_demand(self, row: selfservice_db.RequestRow, approved: list[selfservice_db.RequestRow]
                         ) -> tuple[dict[str, str], dict[str, str]]:
        """The demand of the request's resources before and after approving it, checked by the loader."""
        base = self.loaded()
        if row.tenant not in {t.id for t in base.tenants}:
            raise RefusedError(409, "Unknown tenant", f"tenant {row.tenant} is no longer in quotas/")
        current = increasing.overlay(base, approved).tenant(row.tenant).demand.get(row.pool, {})
        amounts = selfservice_decisions.decimal_quota(row.demand)
        after = increasing.next_demand(current, mode=row.mode, amounts=amounts)
        pending = selfservice_db.RequestRow(**{**row.__dict__, "result": selfservice_decisions.plain_quota(after)})
        changes = increasing.changes_of([*approved, pending]).get(row.tenant, {})
        increasing.check(self.quotas_path, tenant=row.tenant, changes=changes)
        before = {k: resources.plain(current.get(k, Decimal(0))) for k in resources.ordered(amounts)}
        return before, selfservice_decisions.plain_quota(after)

    # Helpers

    def _reserved(self, tenant: str) -> list[selfservice_decisions.Reservation]:
        with self.store.read() as tx:
            return _reservations(tx.namespaces(tenant=tenant))

    def _apply_new(self, decision: selfservice_decisions.Decision) -> None:
        cluster = self.cluster(decision.pool)
        live = cluster.get(kube.KINDS["Namespace"], name=decision.name)
        labels = ((live or {}).get("metadata") or {}).get("labels") or {}
        if live is not None and not (labels.get(changes.PROVISIONED_BY) == changes.SELF_SERVICE
                                     and labels.get(changes.TENANT) == decision.tenant):
            raise RefusedError(409, "Namespace exists", f"namespace {decision.name} exists in the cluster already")
        done: list[Mapping[str, Any]] = []
        try:
            for manifest in decision.manifests:
                cluster.apply(manifest)
                done.append(manifest)
        except BackendError as exc:
            for manifest in reversed(done):
                meta = manifest["metadata"]
                try:
                    cluster.delete(kind_name=manifest["kind"], name=meta["name"], namespace=meta.get("namespace"))
                except BackendError:
                    break  # the cluster is failing; the objects stay, labelled self-service, and are reported
            raise RefusedError(502, "Cluster apply failed",
                          f"namespace {decision.name} was not created; the cluster answered: {exc}") from None

    def _apply(self, pool: str, manifests: tuple[Mapping[str, Any], ...]) -> None:
        cluster = self.cluster(pool)
        try:
            for manifest in manifests:
                cluster.apply(manifest)
        except BackendError as exc:
            raise RefusedError(502, "Cluster apply failed", f"the cluster answered: {exc}") from None

    def _record(self, kind: str, who: Identity, subject: Mapping[str, str], *, before: Any = None,
                after: Any = None, reason: str = "") -> None:
        self.ledger.append(kind=kind, actor=who.actor, subject=dict(subject), before=before, after=after,
                           reason=reason, at=self.clock())

    def _failed(self, who: Identity, subject: Mapping[str, str], change: str, exc: BaseException) -> None:
        """The outcome of an intended change that did not happen (best effort: the error goes on)."""
        try:
            self._record(FAILED, who, subject, after={"change": change},
                         reason=f"{type(exc).__name__}: {str(exc)[:300]}")
        except Exception:  # the ledger failing too must not hide the original error
            log.warning("could not record the failure of %s on %s", change, dict(subject), exc_info=True)


def open_service(quotas_path: str, *, database: str | None = None, kubeconfig: str | None = None,
                 prometheus_url: str | None = None) -> SelfService:
    """A service over ``quotas_path`` with the ledger and the self-service tables at ``database``.

    ``database`` defaults to the ledger's (``$DCTENANT_LEDGER`` or its SQLite file); with
    ``prometheus_url``, tenants can read their usage through the enforcement query layer.
    """
    from dctenant.clients import ledger_db

    store = selfservice_db.Store(selfservice_db.store_url(database))
    measure: Measure | None = None
    if prometheus_url:
        from dctenant.clients import prometheus

        endpoint = prometheus.Prometheus(prometheus.settings(prometheus_url))

        def measure(names: Mapping[str, str], at: dt.datetime) -> usage.Usage:
            return endpoint.measure(names, at=at)

    return SelfService(quotas_path=quotas_path, store=store, ledger=ledger_db.open_ledger(database),
                       kubeconfig=kubeconfig, measure=measure)


def _signature(root: pathlib.Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when any file of quotas/ changes: names, modification times and sizes.

    Every request asks this (to see whether quotas/ changed), so it works on plain strings and
    ``os.scandir``: sorting a thousand ``pathlib.Path`` objects cost more than the page it guarded.
    """
    import fnmatch
    import os

    out = []
    for name in ("datacentre.yaml", "policy.yaml"):
        try:
            st = os.stat(root / name)
        except OSError:
            continue
        out.append((name, st.st_mtime_ns, st.st_size))
    try:
        with os.scandir(root / "tenants") as entries:
            found = sorted((e.name, e) for e in entries if fnmatch.fnmatchcase(e.name, "*.y*ml"))
    except OSError:
        found = []
    for name, entry in found:
        try:
            st = entry.stat()
        except OSError:
            continue
        out.append((name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def staff_only(who: Identity, *, read: bool = False) -> None:
    """Refuse all but staff; with ``read``, auditors too may (they read, never write)."""
    if not who.staff and not (read and who.auditor):
        raise RefusedError(403, "Forbidden", "this needs a staff token")


def _active(row: selfservice_db.NamespaceRow | None, *, tenant: str, name: str) -> selfservice_db.NamespaceRow:
    """The tenant's self-service namespace ``name``, which must exist and not be mid-change."""
    if row is None or row.tenant != tenant:
        raise RefusedError(404, "Unknown namespace", f"tenant {tenant} has no self-service namespace {name!r}")
    if row.state != "active":
        raise RefusedError(409, "Namespace busy", f"namespace {name} is being {row.state}; try again")
    return row


def allowed(who: Identity, tenant: str, *, write: bool = False) -> None:
    """Refuse another tenant's token; an auditor reads any tenant but is refused every ``write``."""
    if who.auditor:
        if write:
            raise RefusedError(403, "Forbidden", "an auditor token is read-only")
        return
    if not who.staff and who.tenant != tenant:
        raise RefusedError(403, "Forbidden", f"this token is scoped to tenant {who.tenant}, not {tenant}")


def _known(model: quotas.Quotas, tenant: str) -> None:
    if tenant not in {t.id for t in model.tenants}:
        raise RefusedError(404, "Unknown tenant", f"no tenant {tenant!r} in the data centre")


def _reservations(rows: list[selfservice_db.NamespaceRow]) -> list[selfservice_decisions.Reservation]:
    return [selfservice_decisions.Reservation(name=r.name, tenant=r.tenant, pool=r.pool,
                                    quota=selfservice_decisions.decimal_quota(r.quota)) for r in rows]


def _namespace_views(allocation: allocations.Allocation, tenant: str,
                     rows: list[selfservice_db.NamespaceRow]) -> list[dict[str, Any]]:
    """A tenant's staff-declared namespaces (from the allocation) and self-service ones (rows), by name."""
    staff = [{"name": g.namespace, "pool": g.pool, "provisionedBy": "staff", "state": "active",
              "quota": selfservice_decisions.plain_quota(g.granted)}
             for g in allocation.namespaces if g.tenant == tenant]
    return sorted(staff + [namespace_view(r) for r in rows], key=lambda n: str(n["name"]))


def _larger(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {k: max(a.get(k, Decimal(0)), b.get(k, Decimal(0))) for k in {*a, *b}}


def _subject(tenant: str, name: str, pool: str) -> dict[str, str]:
    return {"tenant": tenant, "namespace": name, "pool": pool}


def _fingerprint(model: quotas.Quotas, body: Mapping[str, Any]) -> str:
    """The SHA-256 of the normalised request: the quota in base units, so spellings do not matter."""
    pool = selfservice_decisions.check_pool(model, body.get("pool"))
    quota = selfservice_decisions.read_quota(body.get("quota"), model=model, pool=pool)
    normal = {"name": body.get("name"), "pool": pool, "quota": selfservice_decisions.plain_quota(quota)}
    return hashlib.sha256(json.dumps(normal, sort_keys=True, default=str).encode()).hexdigest()


def _replayed(earlier: selfservice_db.IdempotencyRow, fingerprint: str) -> tuple[int, dict[str, Any]]:
    if earlier.fingerprint != fingerprint:
        raise RefusedError(422, "Idempotency key reused",
                           "this Idempotency-Key was used for a different request; use a new key")
    if earlier.status is None or earlier.response is None:
        raise RefusedError(409, "In progress", f"namespace {earlier.namespace} is still being created; retry shortly")
    return 200, dict(earlier.response)


def namespace_view(row: selfservice_db.NamespaceRow, *, quota: Mapping[str, str] | None = None,
                   state: str | None = None) -> dict[str, Any]:
    return {"name": row.name, "pool": row.pool, "provisionedBy": "self-service", "state": state or row.state,
            "quota": dict(quota if quota is not None else row.quota), "createdAt": row.created_at.isoformat(),
            "createdBy": row.created_by}


def token_view(row: selfservice_db.TokenRow, *, now: dt.datetime) -> dict[str, Any]:
    state = "revoked" if row.revoked_at else "expired" if row.expires_at <= now else "active"
    return {"id": row.id, "scope": _scope(row), "tenant": row.tenant,
            "state": state, "createdAt": row.created_at.isoformat(), "expiresAt": row.expires_at.isoformat(),
            "revokedAt": row.revoked_at.isoformat() if row.revoked_at else None, "createdBy": row.created_by,
            "note": row.note}


def request_view(row: selfservice_db.RequestRow) -> dict[str, Any]:
    return {"id": row.id, "tenant": row.tenant, "pool": row.pool, "mode": row.mode, "amounts": dict(row.demand),
            "reason": row.reason, "state": row.state, "createdAt": row.created_at.isoformat(),
            "createdBy": row.created_by, "decidedAt": row.decided_at.isoformat() if row.decided_at else None,
            "decidedBy": row.decided_by or None, "decision": row.decision or None,
            "before": dict(row.before) if row.before is not None else None,
            "result": dict(row.result) if row.result is not None else None,
            "exportedAt": row.exported_at.isoformat() if row.exported_at else None}


def _scope(row: selfservice_db.TokenRow) -> str:
    return AUDITOR if row.role == AUDITOR else "staff" if row.tenant is None else "tenant"
