"""A report from the database: read the rows its scope may see, build, render.

One path for `examnet report` and the scheduled reports of a running monitor.
"""

from __future__ import annotations

from typing import Literal

from monitor.availability import served_sites
from monitor.model.inventory import Inventory
from monitor.report.build import Report, Scope, build
from monitor.report.html import render_html
from monitor.report.markdown import render_markdown
from monitor.storage.store import Store

Format = Literal["html", "md"]
FORMATS: tuple[Format, ...] = ("html", "md")


def read(store: Store, inventory: Inventory, scope: Scope) -> Report:
    """The report over `scope`: a carrier's rows are cut in the query, not after it."""
    sites = served_sites(inventory, scope.carrier)
    stored = store.access.overlapping(scope.since, scope.until, scope.carrier, sites)
    return build(inventory, stored, store.readiness(), scope)


def render(report: Report, inventory: Inventory, form: Format) -> str:
    language = inventory.alerting.language
    if form == "md":
        return render_markdown(report, inventory, language)
    return render_html(report, inventory, language)
