"""The report in Markdown, for e-mail and chat: the same report, shorter.

Sites that met every requirement are counted, not listed: a reader of a
chat message wants what went wrong.
"""

from __future__ import annotations

from alerts.phrases import localized
from monitor.model.inventory import Inventory
from monitor.report import formats as f
from monitor.report.build import Report, WindowReport, readiness_entries
from monitor.report.html import CARRIER_REQUIREMENTS, SITE_REQUIREMENTS
from monitor.report.rules import DEFINITIONS, Outcome
from monitor.report.words import outcome_word, requirement_word, words


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _title(w: WindowReport, inventory: Inventory, language: str) -> str:
    t, zone = words(language), inventory.plan.timezone
    label = f"{t['session']} {w.name}" if w.kind == "session" else f"{t['phase']}: {t[w.name]}"
    return f"{label} — {f.clock(w.start, zone)} → {f.clock(w.end, zone)}"


def _window(w: WindowReport, report: Report, inventory: Inventory, language: str) -> list[str]:
    t, zone = words(language), inventory.plan.timezone
    out = [f"## {_cell(_title(w, inventory, language))}", ""]
    served = {row.site for row in w.sites}
    for r in w.readiness:
        listed = ", ".join(
            str(site) + ("" if why is None else f" ({localized(why, language)})")
            for site, why in readiness_entries(r, report.scope.carrier, served)
        )
        state = t["ready"] if r.ready else t["not_ready"]
        out.append(
            f"- {t['readiness']} {f.moment(r.taken_at, zone)}: **{state}**, "
            f"{r.sites_ready}/{r.sites_total}{' — ' + listed if listed else ''}"
        )
    if w.kind == "session" and not w.readiness:
        out.append(f"- {t['no_readiness']}")
    if w.unmeasured_seconds > 0:
        out.append(f"- {t['unmeasured']}: {f.duration(w.unmeasured_seconds)}")
    shown = [
        row
        for row in w.sites
        if any(o in (Outcome.AT_RISK, Outcome.VIOLATED) for o in row.outcomes.values())
    ]
    out.append("")
    if not shown:
        out += [f"{t['all_met']} ({len(w.sites)}).", ""]
    else:
        heads = [
            t["site"],
            *(requirement_word(q, language) for q in SITE_REQUIREMENTS),
            t["availability"],
            t["incidents"],
        ]
        out += [
            f"{t['shown']}: {len(shown)}/{len(w.sites)}",
            "",
            "| " + " | ".join(heads) + " |",
            "|" + "---|" * len(heads),
        ]
        for row in shown:
            cells = [
                row.name,
                *(outcome_word(row.outcomes[q], language) for q in SITE_REQUIREMENTS),
                f.share(row.availability),
                str(row.incidents),
            ]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        out.append("")
    heads = [
        t["carrier"],
        *(requirement_word(q, language) for q in CARRIER_REQUIREMENTS),
        t["availability"],
        t["incidents"],
        t["mttr"],
        t["tta"],
    ]
    out += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for c in w.carriers:
        cells = [
            c.name,
            *(outcome_word(c.outcomes[q], language) for q in CARRIER_REQUIREMENTS),
            f.share(c.availability),
            str(c.incidents),
            f.duration(c.mttr_seconds),
            f.duration(c.time_to_ack_seconds),
        ]
        out.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    return [*out, ""]


def render_markdown(report: Report, inventory: Inventory, language: str) -> str:
    t, zone, s = words(language), inventory.plan.timezone, report.scope
    out = [
        f"# {t['title']}",
        "",
        f"**{report.plan}**  ",
        f"{t['range']}: {f.moment(s.since, zone)} → {f.moment(s.until, zone)} ({zone.key})  ",
        f"{t['generated']}: {f.moment(s.now, zone)}",
    ]
    if report.carrier_name is not None:
        out[-1] += "  "
        out.append(f"{t['scope']}: {report.carrier_name}")
    out.append("")
    for w in report.windows:
        out += _window(w, report, inventory, language)
    out += [f"## {t['all_incidents']}", ""]
    heads = ("start", "end", "duration", "site", "subject", "kind", "worst", "to_ack", "to_recover")
    out += ["| " + " | ".join(t[h] for h in heads) + " |", "|" + "---|" * len(heads)]
    for line in report.incidents:
        r = line.record
        cells = [
            f.moment(r.started_at, zone),
            f.moment(r.ended_at, zone) or t["open"],
            f.duration(line.lasted(s.now)),
            r.site or "",
            r.subject,
            f"{r.kind} ({r.severity})",
            f.worst(r),
            f.duration(line.time_to_ack_seconds),
            f.duration(line.time_to_recover_seconds),
        ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if not report.incidents:
        out.append(f"| {t['none']} |" + " |" * (len(heads) - 1))
    out += ["", f"### {t['definitions']}", ""]
    out += [
        f"- {DEFINITIONS[language if language == 'vi' else 'en'][q]}" for q in SITE_REQUIREMENTS
    ]
    out += [f"- {t[k]}" for k in ("carrier_rule", "availability_rule", "times_rule")]
    return "\n".join(out) + "\n"
