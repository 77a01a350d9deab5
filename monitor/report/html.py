"""The report as one self-contained HTML page: inline CSS and SVG, no script, prints well."""

from __future__ import annotations

from functools import lru_cache
from html import escape
from zoneinfo import ZoneInfo

from alerts.phrases import localized
from monitor.model.inventory import Inventory
from monitor.report import formats as f
from monitor.report.build import IncidentLine, Report, WindowReport, readiness_entries
from monitor.report.charts import availability_bars, strip_chart
from monitor.report.rules import DEFINITIONS, Outcome, Requirement
from monitor.report.words import outcome_word, requirement_word, words

SITE_REQUIREMENTS = tuple(Requirement)
# reasons repeat (the same words, the same figures): translate each once per report
_localized = lru_cache(maxsize=8192)(localized)
CARRIER_REQUIREMENTS = (Requirement.R1, Requirement.R3)

CSS = """
body{font-family:"Noto Sans","DejaVu Sans",sans-serif;font-size:13px;margin:1.5em;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:1.6em;border-bottom:1px solid #999}
h3{font-size:14px}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #bbb;padding:2px 6px;
text-align:left;vertical-align:top}th{background:#eee}
.met{background:#dff0e3}.at_risk{background:#fbeec5}.violated{background:#f6d3d1;font-weight:bold}
.not_watched{color:#777}footer{margin-top:2em;font-size:11px;color:#444}
section{page-break-inside:auto}tr{page-break-inside:avoid}
@media print{body{margin:0}h2{page-break-after:avoid}}
"""


def _outcome_cell(requirement: Requirement, outcome: Outcome, language: str) -> str:
    return (
        f'<td class="{outcome}" data-requirement="{requirement}" data-outcome="{outcome}">'
        f"{escape(outcome_word(outcome, language))}</td>"
    )


def _title(w: WindowReport, zone: ZoneInfo, language: str) -> str:
    t = words(language)
    label = f"{t['session']} {w.name}" if w.kind == "session" else f"{t['phase']}: {t[w.name]}"
    return f"{label} — {f.clock(w.start, zone)} → {f.clock(w.end, zone)}"


def _summary(report: Report, zone: ZoneInfo, language: str) -> list[str]:
    t = words(language)
    out = [f"<h2>{t['summary']}</h2><table><tr><th></th>"]
    out += [f"<th>{escape(requirement_word(q, language))}</th>" for q in SITE_REQUIREMENTS]
    out.append("</tr>")
    for w in report.windows:
        out.append(f"<tr><th>{escape(_title(w, zone, language))}</th>")
        for q in SITE_REQUIREMENTS:
            counts = w.counts(q)
            cells = [
                f'<span class="{o}">{counts[o]} {escape(outcome_word(o, language))}</span>'
                for o in Outcome
                if counts.get(o)
            ]
            out.append(f"<td>{' · '.join(cells) or '—'}</td>")
        out.append("</tr>")
    out.append("</table>")
    return out


def _readiness(
    w: WindowReport, report: Report, zone: ZoneInfo, served: set[str], language: str
) -> list[str]:
    t = words(language)
    out = [f"<h3>{t['readiness']}</h3>"]
    if not w.readiness:
        return [*out, f"<p>{t['no_readiness']}</p>"]
    out.append("<ul>")
    for r in w.readiness:
        state = t["ready"] if r.ready else t["not_ready"]
        entries = readiness_entries(r, report.scope.carrier, served)
        listed = "; ".join(
            escape(str(site))
            + ("" if reason is None else f": {escape(localized(reason, language))}")
            for site, reason in entries
        )
        out.append(
            f'<li data-ready="{str(r.ready).lower()}">{f.moment(r.taken_at, zone)} '
            f"(−{f.duration(r.seconds_before)}): <b>{state}</b>, {r.sites_ready}/{r.sites_total} "
            f"{t['sites_ready']}{' — ' + listed if listed else ''}</li>"
        )
    out.append("</ul>")
    return out


def _window(w: WindowReport, report: Report, inventory: Inventory, language: str) -> list[str]:
    t = words(language)
    zone = inventory.plan.timezone
    names = {s.id: s.name for s in inventory.sites}
    served = {row.site for row in w.sites}
    out = [f'<section data-window="{w.kind}:{escape(w.name)}">']
    out.append(f"<h2>{escape(_title(w, zone, language))}</h2>")
    if w.kind == "session":
        out += _readiness(w, report, zone, served, language)
    if w.unmeasured_seconds > 0:
        out.append(
            f'<p class="not_watched" data-unmeasured="{w.unmeasured_seconds:.0f}">'
            f"{t['unmeasured']}: {f.duration(w.unmeasured_seconds)}</p>"
        )
    if w.strips:
        out.append(f"<h3>{t['strip']}</h3>")
        legend = {k: t[k] for k in ("up", "degraded", "down")}
        out.append(
            strip_chart(
                w.strips,
                names=names,
                start=w.judged_from,
                end=w.judged_until,
                zone=zone,
                legend=legend,
            )
        )
        quiet = len(w.sites) - len(w.strips)
        if quiet:
            out.append(f"<p>{t['quiet']}: {quiet}</p>")
    out.append(f"<h3>{t['site']}</h3><table><tr><th>{t['site']}</th><th>{t['district']}</th>")
    out += [f"<th>{escape(requirement_word(q, language))}</th>" for q in SITE_REQUIREMENTS]
    out.append(
        f"<th>{t['availability']}</th><th>{t['redundant']}</th><th>{t['incidents']}</th></tr>"
    )
    for row in w.sites:
        out.append(
            f'<tr data-site="{escape(row.site)}"><td>{escape(row.name)}</td>'
            f"<td>{escape(row.district)}</td>"
        )
        out += [_outcome_cell(q, row.outcomes[q], language) for q in SITE_REQUIREMENTS]
        out.append(
            f"<td>{f.share(row.availability)}</td><td>{f.share(row.redundant_availability)}</td>"
            f"<td>{row.incidents}</td></tr>"
        )
    out.append("</table>")
    out += _carriers(w, language)
    out.append("</section>")
    return out


def _carriers(w: WindowReport, language: str) -> list[str]:
    t = words(language)
    out = [f"<h3>{t['bars']}</h3>", availability_bars(w.carriers)]
    out.append(f"<table><tr><th>{t['carrier']}</th>")
    out += [f"<th>{escape(requirement_word(q, language))}</th>" for q in CARRIER_REQUIREMENTS]
    out.append(
        f"<th>{t['availability']}</th><th>{t['incidents']}</th><th>{t['mttr']}</th>"
        f"<th>{t['tta']}</th></tr>"
    )
    for row in w.carriers:
        out.append(f'<tr data-carrier="{escape(row.carrier)}"><td>{escape(row.name)}</td>')
        out += [_outcome_cell(q, row.outcomes[q], language) for q in CARRIER_REQUIREMENTS]
        out.append(
            f"<td>{f.share(row.availability)}</td><td>{row.incidents}</td>"
            f"<td>{f.duration(row.mttr_seconds)}</td><td>{f.duration(row.time_to_ack_seconds)}"
            "</td></tr>"
        )
    out.append("</table>")
    return out


def _incidents(
    lines: list[IncidentLine], report: Report, zone: ZoneInfo, language: str
) -> list[str]:
    t = words(language)
    out = [f"<h2>{t['all_incidents']}</h2>"]
    if not lines:
        return [*out, f"<p>{t['none']}</p>"]
    heads = ("start", "end", "duration", "site", "subject", "kind", "worst", "to_ack", "to_recover")
    out.append("<table><tr>" + "".join(f"<th>{t[h]}</th>" for h in heads) + "</tr>")
    for line in lines:
        r = line.record
        end = f.moment(r.ended_at, zone) if r.ended_at else t["open"]
        out.append(
            f'<tr data-incident="{line.id}"><td>{f.moment(r.started_at, zone)}</td><td>{end}</td>'
            f"<td>{f.duration(line.lasted(report.scope.now))}</td><td>{escape(r.site or '')}</td>"
            f'<td>{escape(r.subject)}</td><td title="{escape(_localized(r.reason, language))}">'
            f"{escape(str(r.kind))} ({escape(str(r.severity))})</td><td>{f.worst(r)}</td>"
            f"<td>{f.duration(line.time_to_ack_seconds)}</td>"
            f"<td>{f.duration(line.time_to_recover_seconds)}</td></tr>"
        )
    out.append("</table>")
    return out


def _footer(report: Report, language: str) -> list[str]:
    t = words(language)
    out = [f"<footer><h3>{t['definitions']}</h3><ul>"]
    out += [
        f"<li>{escape(DEFINITIONS[language if language == 'vi' else 'en'][q])}</li>"
        for q in SITE_REQUIREMENTS
    ]
    out += [f"<li>{escape(t[k])}</li>" for k in ("carrier_rule", "availability_rule", "times_rule")]
    if report.skipped_future:
        out.append(f"<li>{t['not_yet']}: {report.skipped_future}</li>")
    out.append("</ul></footer>")
    return out


def render_html(report: Report, inventory: Inventory, language: str) -> str:
    t = words(language)
    zone = inventory.plan.timezone
    s = report.scope
    head = [
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">',
        f"<title>{escape(t['title'])}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(t['title'])}</h1>",
        f"<p><b>{escape(report.plan)}</b><br>{t['range']}: {f.moment(s.since, zone)} → "
        f"{f.moment(s.until, zone)} ({zone.key})<br>{t['generated']}: {f.moment(s.now, zone)}",
    ]
    if report.carrier_name is not None:
        head.append(f"<br>{t['scope']}: {escape(report.carrier_name)}")
    head.append("</p>")
    body = _summary(report, zone, language)
    for w in report.windows:
        body += _window(w, report, inventory, language)
    body += _incidents(report.incidents, report, zone, language)
    return "".join([*head, *body, *_footer(report, language), "</body></html>\n"])
