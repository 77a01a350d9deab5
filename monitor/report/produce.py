"""A report from the database: read the rows its scope may see, build, render.

One path for `examnet report` and the scheduled reports of a running monitor.
"""

from __future__ import annotations

import base64
import unicodedata
from datetime import datetime
from typing import Literal

from monitor.availability import served_sites
from monitor.model.inventory import Inventory
from monitor.model.reports import ReportRun, ScheduledReport
from monitor.report.build import Report, Scope, build
from monitor.report.formats import clock
from monitor.report.html import render_html
from monitor.report.markdown import render_markdown
from monitor.report.pdf import pdf_bytes
from monitor.report.words import words
from monitor.storage.store import Store

Format = Literal["html", "md"]
FORMATS: tuple[Format, ...] = ("html", "md")


def read(store: Store, inventory: Inventory, scope: Scope) -> Report:
    """The report over `scope`: a carrier's rows are cut in the query, not after it."""
    sites = served_sites(inventory, scope.carrier)
    stored = store.access.overlapping(scope.since, scope.until, scope.carrier, sites)
    measured = store.access.measured(scope.since, scope.until, scope.now)
    return build(inventory, stored, store.readiness(), scope, measured)


def scheduled(
    store: Store, inventory: Inventory, report: ScheduledReport, run: ReportRun, now: datetime
) -> dict[str, str]:
    """One due run of a `[[reports]]` entry, as a notification carries it."""
    scope = Scope(run.since, run.until, now, run.session, report.carrier)
    form: Format = "md" if report.form == "md" else "html"
    text = render(read(store, inventory, scope), inventory, form)
    zone = inventory.plan.timezone
    period = run.session or f"{clock(run.since, zone)} → {clock(run.until, zone)}"
    title = f"{words(inventory.alerting.language)['title']}: {report.name} — {period}"
    made = {
        "name": report.name,
        "title": title,
        "format": form,
        "content": text,
        "since": run.since.isoformat(),
        "until": run.until.isoformat(),
    }
    if report.form == "pdf":  # the page printed; JSON and the outbox carry it as base64
        made |= {
            "format": "pdf",
            "content": base64.b64encode(pdf_bytes(text)).decode("ascii"),
            "encoding": "base64",
            "filename": f"{_slug(report.name)}-{run.since.astimezone(zone):%Y%m%d-%H%M}.pdf",
        }
    return made


def _slug(name: str) -> str:
    """A file name from a report's name: ASCII letters and digits, Vietnamese folded."""
    folded = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in folded if c.isascii() and (c.isalnum() or c in " -_"))
    return "-".join(plain.lower().split()) or "report"


def render(report: Report, inventory: Inventory, form: Format) -> str:
    language = inventory.alerting.language
    if form == "md":
        return render_markdown(report, inventory, language)
    return render_html(report, inventory, language)
