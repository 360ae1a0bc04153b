"""The auditor's pages: reports (shown, or downloaded through the CLI's own renderers), the ledger, proofs.

Downloads are the very bytes ``dctenant report -o csv|json|html`` writes for the same inputs
(``ops.reporting.render``), so a file taken from the portal reproduces with
``dctenant report --reproduce``. A download is not an *issue*: nothing is recorded in the ledger
(an auditor's role is read-only); issuing stays a CLI act (``report --out``).
"""

from __future__ import annotations

from starlette.responses import Response

from dctenant.api.portal import pages, site
from dctenant.errors import UserError
from dctenant.ops import selfservice_decisions, selfservice_usecases

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "html": "text/html; charset=utf-8"}


def report(portal: site.Portal, ctx: site.Ctx) -> Response:
    from dctenant.domain import periods
    from dctenant.ops import reporting
    from dctenant.render.reports import cells, tables

    selfservice_usecases.staff_only(ctx.who, read=True)
    kind, calendar, label, form = ctx.query("kind"), ctx.query("calendar") or "gregorian", ctx.query("period"), \
        ctx.query("format") or "view"
    if kind not in pages.REPORT_KINDS:
        raise selfservice_decisions.RefusedError(422, "Invalid report", f"no report {kind!r}")
    if calendar not in (periods.GREGORIAN, periods.JALALI) or form not in ("view", *MEDIA):
        raise selfservice_decisions.RefusedError(422, "Invalid request", "unknown calendar or format")
    style = cells.Style(calendar=ctx.reader.calendar, digits=ctx.reader.digits)
    base = {"kind": kind, "calendar": calendar, "period": label}
    try:
        chosen = reporting.period(label, calendar=calendar)
        built = reporting.build(kind, path=portal.service.quotas_path, period=chosen, now=portal.service.clock(),
                                ledger=portal.service.ledger)
    except UserError as exc:
        return portal.render(ctx, "report.html", status=422, error=str(exc), base=base, tables=(), provenance=(),
                             warnings=(), links={})
    if form != "view":
        text = reporting.render(built, output=form, style=style)
        name = f"{kind}-{chosen.label}.{form}".replace("/", "-")
        return Response(text, media_type=MEDIA[form],
                        headers={"content-disposition": f'attachment; filename="{name}"'})
    links = {f: f"{site.PREFIX}/audit/report?" + site.query(**base, format=f) for f in MEDIA}
    return portal.render(ctx, "report.html", error="", base=base, title=built.title,
                         tables=tables.tables(built, style=style), provenance=cells.provenance(built, style=style),
                         warnings=built.warnings, links=links)


def ledger(portal: site.Portal, ctx: site.Ctx) -> Response:
    kind, tenant = ctx.query("kind"), ctx.query("tenant")
    since, until = site.parse_day(ctx.query("since")), site.parse_day(ctx.query("until"))
    after = ctx.query("after")
    data = pages.ledger_page(portal.service, ctx.who, kind=kind or None, tenant=tenant or None, since=since,
                             until=until, after=int(after) if after.isdigit() else 0)
    filters = {"kind": kind, "tenant": tenant, "since": ctx.query("since"), "until": ctx.query("until")}
    more = None if data["next"] is None else f"{site.PREFIX}/audit/ledger?" + site.query(**filters,
                                                                                         after=data["next"])
    return portal.render(ctx, "ledger.html", page=data, filters=filters, more=more,
                         kinds=pages.audit_events_kinds())


def verify(portal: site.Portal, ctx: site.Ctx) -> Response:
    from dctenant.ops import auditing

    selfservice_usecases.staff_only(ctx.who, read=True)
    verdict = auditing.verify(portal.service.ledger)
    return portal.render(ctx, "verify.html", verdict=verdict)


def proof(portal: site.Portal, ctx: site.Ctx) -> Response:
    from dctenant.ops import auditing

    selfservice_usecases.staff_only(ctx.who, read=True)
    event = ctx.query("event")
    if not event.isdigit() or int(event) < 1:
        raise selfservice_decisions.RefusedError(422, "Invalid event", "give an event number (1 or more)")
    shown = auditing.prove(portal.service.ledger, event=int(event)).as_dict()
    return portal.render(ctx, "proof.html", proof=shown)
