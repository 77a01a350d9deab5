"""examnet's Grafana dashboards as code: `make dashboards` writes deploy/grafana/dashboards/.

Built with Grafana Labs' grafana-foundation-sdk (typed builders generated
from Grafana's own schemas), so a misspelt option is a type error here, not
a silently ignored key in hand-edited JSON. Every query names only series of
docs/metrics.md or the recording rules of deploy/prometheus/rules/; the
thresholds panels colour by are examnet's own defaults (`Thresholds()`, the
defaults of sites.toml's [thresholds]), imported rather than typed twice.

Run: python deploy/grafana/generate.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    geomap,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from monitor.model.inventory import Thresholds

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DEFAULTS = Thresholds()
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAGS = ["examnet"]
RATE = "$__rate_interval"
GRID_WIDTH = 24
SESSION_EXPR = "max by (session) (examnet_exam_session_active) == 1"
# What the SDK's AnnotationQuery has no setter for: the Prometheus plugin reads
# these beside `expr` (the session's name as the annotation's title).
SESSION_EXTRA = {"titleFormat": "{{session}}", "step": "60s"}

# Colours and names of examnet's state codes (monitor/target_metrics.py).
SITE_STATES = (("ok", "green"), ("degraded", "yellow"), ("lost_redundancy", "orange"),
               ("isolated", "red"))  # fmt: skip
TARGET_STATES = (("up", "green"), ("degraded", "yellow"), ("down", "red"))

Panel = cogbuilder.Builder[dm.Panel]


# --- small helpers -------------------------------------------------------------------


def query(expr: str, legend: str = "", *, instant: bool = False, rows: bool = False,
          ref: str = "A") -> Any:  # fmt: skip
    """A PromQL target; `rows` for tables and the map (one row per series, labels as columns)."""
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    if instant or rows:
        q = q.instant()
    if rows:
        q = q.format(pm.PromQueryFormat.TABLE)
    return q


def steps(*pairs: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(value=v, color=c) for v, c in pairs]
    )


def warn_crit(warn: float, crit: float) -> dash.ThresholdsConfig:
    """Green below warn, orange from warn, red from crit: examnet's own limits."""
    return steps((None, "green"), (warn, "orange"), (crit, "red"))


def state_mapping(states: tuple[tuple[str, str], ...]) -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                str(code): dm.ValueMappingResult(text=name, color=colour, index=code)
                for code, (name, colour) in enumerate(states)
            }
        )
    ]


def one_zero(one: tuple[str, str], zero: tuple[str, str]) -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                "1": dm.ValueMappingResult(text=one[0], color=one[1], index=0),
                "0": dm.ValueMappingResult(text=zero[0], color=zero[1], index=1),
            }
        )
    ]


def series(title: str, unit: str, *queries: Any, w: int = 12, h: int = 8) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).span(w).height(h).datasource(DS)
    for q in queries:
        panel = panel.with_target(q)
    return panel


def refs(*queries: Any) -> list[Any]:
    """Distinct refIds A, B, C… in order."""
    return [q.ref_id(chr(ord("A") + i)) for i, q in enumerate(queries)]


def big(title: str, expr: str, *, w: int = 4, h: int = 4, colour: str = "green",
        legend: str = "") -> stat.Panel:  # fmt: skip
    return (
        stat.Panel().title(title).span(w).height(h).datasource(DS)
        .with_target(query(expr, legend, instant=True))
        .thresholds(steps((None, colour)))
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(cm.BigValueGraphMode.NONE)
    )  # fmt: skip


def timeline(title: str, expr: str, legend: str, states: tuple[tuple[str, str], ...],
             *, w: int = 24, h: int = 8) -> statetimeline.Panel:  # fmt: skip
    return (
        statetimeline.Panel().title(title).span(w).height(h).datasource(DS)
        .with_target(query(expr, legend)).mappings(state_mapping(states))
        .thresholds(steps((None, "green"))).color_scheme(
            dash.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .show_value(cm.VisibilityMode.NEVER)
    )  # fmt: skip


def datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def label_variable(name: str, label: str, source: str, *, multi: bool = True) -> Any:
    """A variable filled from `label_values(source, name)`; `.*` when All is picked."""
    variable = (
        dash.QueryVariable(name).label(label).datasource(DS)
        .query({"query": f"label_values({source}, {name})", "refId": "PrometheusVariableQuery",
                "qryType": 1})
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC)
    )  # fmt: skip
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".*")
    return variable


def sessions_annotation() -> dash.AnnotationQuery:
    """Exam sessions shaded on every time series (examnet_exam_session_active)."""
    return (
        dash.AnnotationQuery().name("Exam sessions").datasource(DS).enable(True)
        .icon_color("rgba(255, 176, 0, 0.25)")
        .expr(SESSION_EXPR)
    )  # fmt: skip


def place(position: dm.GridPos | None, skyline: list[int]) -> None:
    """Put a panel where it rests highest, leftmost first (Grafana's own gravity).

    The SDK only flows panels row by row, which leaves a hole beside a tall
    panel such as the map; this fills the column next to it.
    """
    if position is None:
        raise ValueError("a panel without a size")
    width = min(position.w, GRID_WIDTH)
    x = min(range(GRID_WIDTH - width + 1), key=lambda at: max(skyline[at:at + width]))
    position.x, position.y = x, max(skyline[x:x + width])
    skyline[x:x + width] = [position.y + position.h] * width


def board(uid: str, title: str, description: str, variables: list[Any],
          panels: list[Panel]) -> dict[str, Any]:  # fmt: skip
    builder = (
        dash.Dashboard(title).uid(uid).description(description).tags(TAGS)
        .time("now-6h", "now").refresh("30s").timezone("browser").editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .with_variable(datasource_variable())
        .annotation(sessions_annotation())
    )  # fmt: skip
    for variable in variables:
        builder = builder.with_variable(variable)
    skyline = [0] * GRID_WIDTH
    for number, panel in enumerate(panels, start=1):
        model = panel.build()  # the builder's own object: changes stick
        model.id_val = number
        place(model.grid_pos, skyline)
        builder = builder.with_panel(panel)
    encoded: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for annotation in encoded["annotations"]["list"]:
        if annotation.get("expr") == SESSION_EXPR:
            annotation.update(SESSION_EXTRA)
    return encoded


def links_of(site: str = '"$site"', extra: str = "") -> str:
    """The info selector of a site's links, to join target series with."""
    return f'examnet_target_info{{kind="link", site={site}{extra}}}'


# --- the dashboards --------------------------------------------------------------------


def exam_day() -> dict[str, Any]:
    where = 'site=~"$site"'
    count_where = "count(max by (site) (examnet_site_state_code{%s}) == %d) or vector(0)"
    counts = [
        big(f"Sites {name.replace('_', ' ')}", count_where % (where, code), colour=colour)
        for code, (name, colour) in enumerate(SITE_STATES)
    ]
    counts.append(big(
        "Sites unknown",
        f"count(examnet_site_info{{{where}}} unless on(site) examnet_site_state_code) or vector(0)",
        colour="blue"))  # fmt: skip
    site_map = (
        geomap.Panel().title("Sites").span(12).height(14).datasource(DS)
        .description("Every site at its sites.toml coordinates, coloured by its state.")
        .with_target(query(
            "max by (site, name, district, latitude, longitude) (examnet_site_state_code"
            f'{{{where}}} * on(site) group_left(name, district, latitude, longitude) '
            'examnet_site_info{latitude!=""})', rows=True))
        .with_transformation(dm.DataTransformerConfig(id_val="convertFieldType", options={
            "conversions": [{"targetField": "latitude", "destinationType": "number"},
                            {"targetField": "longitude", "destinationType": "number"}]}))
        .view(geomap.MapViewConfig().id("fit").zoom(9))
        .layers([common.MapLayerOptions().type("markers").name("sites").tooltip(True)
                 .location(common.FrameGeometrySource().mode(cm.FrameGeometrySourceMode.COORDS)
                           .latitude("latitude").longitude("longitude"))
                 .config({"style": {"color": {"field": "Value"}, "size": {"fixed": 8},
                                    "text": {"field": "name", "mode": "field"}},
                          "showLegend": True})])
        .mappings(state_mapping(SITE_STATES))
        .thresholds(steps((None, "green"), (1, "yellow"), (2, "orange"), (3, "red")))
        .color_scheme(dash.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
    )  # fmt: skip
    carriers = (
        bargauge.Panel().title("Carriers' links by state").span(12).height(7).datasource(DS)
        .with_target(query(
            'sum by (carrier, state) (examnet_carrier_links{carrier=~"$carrier"})',
            "{{carrier}} {{state}}", instant=True))
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .thresholds(steps((None, "blue")))
        .override_by_regexp(".* down", [dm.DynamicConfigValue("color", {
            "mode": "fixed", "fixedColor": "red"})])
    )  # fmt: skip
    return board(
        "examnet-exam-day", "examnet / Exam day",
        "The wall screen on exam morning: every site's state, the carriers, incidents, "
        "the session and examnet's own sight.",
        [label_variable("district", "District", "examnet_site_info"),
         label_variable("site", "Site", 'examnet_site_info{district=~"$district"}'),
         label_variable("carrier", "Carrier", "examnet_carrier_links")],
        [
            *counts,
            big("Phase", "max by (phase) (examnet_exam_phase) == 1", colour="purple",
                legend="{{phase}}").text_mode(cm.BigValueTextMode.NAME),
            site_map,
            carriers,
            series("Links down, by carrier", "short", query(
                'sum by (carrier) (examnet_carrier_links{state="down", carrier=~"$carrier"})',
                "{{carrier}}"), h=7),
            big("Session running", "max by (session) (examnet_exam_session_active) == 1",
                colour="orange", legend="{{session}}", w=6)
            .text_mode(cm.BigValueTextMode.NAME).no_value("no session now"),
            big("Readiness of the next session", "min by (session) (examnet_readiness_ready)",
                legend="{{session}}", w=6).mappings(
                    one_zero(("ready", "green"), ("not ready", "red")))
            .no_value("no snapshot yet"),
            big("examnet blind", "max(examnet_blind)", w=6).mappings(
                one_zero(("BLIND", "red"), ("sees", "green"))),
            big("Open incidents", "sum(examnet_open_incidents) or vector(0)", w=6,
                colour="text"),
            table.Panel().title("Open incidents by kind and severity").span(12).height(8)
            .datasource(DS).with_target(query(
                "sum by (kind, severity) (examnet_open_incidents)", rows=True))
            .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
                "excludeByName": {"Time": True}})),
            timeline("Site states", f"max by (site) (examnet_site_state_code{{{where}}})",
                     "{{site}}", SITE_STATES, w=12),
        ],
    )


def smoke(site_link: str) -> timeseries.Panel:
    """SmokePing's picture of one link: the median line inside the min–max smoke."""
    join = f" * on(target) group_left() {site_link}"
    return (
        series("RTT of $link (min, median, max per round)", "s", *refs(
            query(f"max(examnet_target_rtt_min_seconds{join})", "min"),
            query(f"max(examnet_target_rtt_median_seconds{join})", "median"),
            query(f"max(examnet_target_rtt_max_seconds{join})", "max")))
        .repeat("link").repeat_direction("h").max_per_row(2)
        .thresholds(warn_crit(DEFAULTS.rtt_warn_ms / 1000, DEFAULTS.rtt_crit_ms / 1000))
        .thresholds_style(common.GraphThresholdsStyleConfig().mode(
            cm.GraphThresholdsStyleMode.DASHED))
        .override_by_name("max", [dm.DynamicConfigValue("custom.fillBelowTo", "min"),
                                  dm.DynamicConfigValue("custom.lineWidth", 0)])
        .override_by_name("min", [dm.DynamicConfigValue("custom.lineWidth", 0)])
        .override_by_name("median", [dm.DynamicConfigValue("custom.lineWidth", 2)])
    )  # fmt: skip


def per_link(figure: str, site_link: str) -> str:
    return f"max by (link) (examnet_target_{figure} * on(target) group_left(link) {site_link})"


def site() -> dict[str, Any]:
    site_link = links_of(extra=', link=~"$link"')
    dashed = common.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)
    return board(
        "examnet-site", "examnet / Site",
        "One exam site: its links' round figures as SmokePing draws them, its interfaces "
        "against their capacity, its power, and its states over time.",
        [label_variable("district", "District", "examnet_site_info"),
         label_variable("site", "Site", 'examnet_site_info{district=~"$district"}', multi=False),
         label_variable("link", "Link", links_of())],
        [
            timeline("Site state", 'max by (site) (examnet_site_state_code{site="$site"})',
                     "{{site}}", SITE_STATES, h=4),
            timeline("Link states (down and degraded periods: the site's incidents)",
                     per_link("state_code", site_link), "{{link}}", TARGET_STATES, h=6),
            smoke(site_link),
            series("Loss per round", "percentunit", query(
                per_link("loss_ratio", site_link), "{{link}}"))
            .thresholds(warn_crit(DEFAULTS.loss_warn, DEFAULTS.loss_crit))
            .thresholds_style(dashed).max(1),
            series("Jitter per round", "s", query(per_link("jitter_seconds", site_link),
                                                  "{{link}}"))
            .thresholds(warn_crit(DEFAULTS.jitter_warn_ms / 1000, DEFAULTS.jitter_crit_ms / 1000))
            .thresholds_style(dashed),
            series("Interface utilisation", "percentunit", query(
                'max by (interface, direction) (examnet_interface_utilisation_ratio{site="$site"})',
                "{{interface}} {{direction}}"))
            .thresholds(warn_crit(DEFAULTS.utilisation_warn, DEFAULTS.utilisation_crit))
            .thresholds_style(dashed),
            series("Traffic against capacity", "bps", *refs(
                query('max by (interface, direction) '
                      '(examnet_interface_bits_per_second{site="$site"})',
                      "{{interface}} {{direction}}"),
                query('max by (interface) '
                      '(examnet_interface_capacity_bits_per_second{site="$site"})',
                      "{{interface}} capacity")))
            .override_by_regexp(".* capacity", [
                dm.DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            series("UPS on battery", "short", query(
                'max by (device) (examnet_ups_on_battery{owner="$site"})', "{{device}}"),
                w=8).mappings(one_zero(("on battery", "red"), ("mains", "green"))),
            series("UPS minutes left", "m", query(
                'min by (device) (examnet_ups_minutes_remaining{owner="$site"})', "{{device}}"),
                w=8)
            .thresholds(steps((None, "red"), (DEFAULTS.power_low_minutes, "green")))
            .thresholds_style(dashed),
            table.Panel().title("Incidents open at this site").span(8).height(8).datasource(DS)
            .with_target(query('sum by (kind, severity, carrier) '
                               '(examnet_open_incidents{site="$site"})', rows=True))
            .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
                "excludeByName": {"Time": True}})),
            timeline("Power state", 'max by (state) (examnet_power_state{owner="$site"}) == 1',
                     "{{state}}", (("mains", "green"),), w=8)
            .mappings([]).color_scheme(dash.FieldColor().mode(
                dm.FieldColorModeId.PALETTE_CLASSIC_BY_NAME)),
        ],
    )


def carrier() -> dict[str, Any]:
    links = 'examnet_target_info{kind="link", carrier=~"$carrier", district=~"$district"}'
    endpoints = 'examnet_target_info{kind="endpoint", carrier=~"$carrier"}'
    down_links = f"(examnet_target_state_code == 2) * on(target) group_left(site) {links}"
    return board(
        "examnet-carrier", "examnet / Carrier",
        "One carrier (or several): its links across every site, its endpoints, the sites "
        "it cut off and its availability from the recording rules.",
        [label_variable("carrier", "Carrier", "examnet_target_info"),
         label_variable("district", "District", "examnet_site_info")],
        [
            series("Links by state", "short", query(
                'sum by (state) (examnet_carrier_links{carrier=~"$carrier"})', "{{state}}"))
            .stacking(common.StackingConfig().mode(cm.StackingMode.NORMAL)).fill_opacity(40)
            .override_by_name("down", [dm.DynamicConfigValue("color", {
                "mode": "fixed", "fixedColor": "red"})]),
            series("Availability (recording rules)", "percentunit", *refs(
                query('examnet:carrier_availability:ratio_1h{carrier=~"$carrier"}',
                      "{{carrier}} 1 h"),
                query('examnet:carrier_availability:ratio_1d{carrier=~"$carrier"}',
                      "{{carrier}} 1 d"))).max(1),
            big("Availability over the range", "avg by (carrier) (avg_over_time("
                'examnet:carrier_availability:ratio_1h{carrier=~"$carrier"}[$__range]))',
                legend="{{carrier}}", w=6).unit("percentunit").decimals(3),
            big("Endpoints down", 'sum(examnet_carrier_endpoints_down{carrier=~"$carrier"})',
                w=6).thresholds(steps((None, "green"), (1, "red"))),
            table.Panel().title("Sites it cut (lost redundancy or isolated, with its link down)")
            .span(12).height(8).datasource(DS).with_target(query(
                "max by (site) (examnet_site_state_code >= 2) and on(site) "
                f"count by (site) ({down_links})", rows=True))
            .mappings(state_mapping(SITE_STATES)),
            timeline("Endpoint states", "max by (target) (examnet_target_state_code"
                     f" * on(target) group_left() {endpoints})", "{{target}}", TARGET_STATES,
                     w=12),
            series("Echo RTT percentiles (every answered echo)", "s", *refs(
                query("histogram_quantile(0.5, sum by (le, carrier) (rate("
                      f'examnet_echo_rtt_seconds_bucket{{carrier=~"$carrier"}}[{RATE}])))',
                      "{{carrier}} p50"),
                query("histogram_quantile(0.99, sum by (le, carrier) (rate("
                      f'examnet_echo_rtt_seconds_bucket{{carrier=~"$carrier"}}[{RATE}])))',
                      "{{carrier}} p99")))
            .thresholds(warn_crit(DEFAULTS.rtt_warn_ms / 1000, DEFAULTS.rtt_crit_ms / 1000))
            .thresholds_style(common.GraphThresholdsStyleConfig().mode(
                cm.GraphThresholdsStyleMode.DASHED)),
            table.Panel().title("Its links across every site").span(12).height(10)
            .datasource(DS).with_target(query(
                "max by (site, link, carrier) (examnet_target_state_code * on(target) "
                f"group_left(site, link, carrier) {links})", rows=True))
            .mappings(state_mapping(TARGET_STATES)),
            table.Panel().title("Link availability, last day (recording rule)").span(12)
            .height(10).datasource(DS).with_target(query(
                'examnet:link_availability:ratio_1d{carrier=~"$carrier"}', rows=True))
            .unit("percentunit").decimals(4),
        ],
    )  # fmt: skip


def examnet_itself() -> dict[str, Any]:
    at = 'instance=~"$instance"'

    def rate(metric: str, by: str = "", selector: str = at) -> str:
        grouping = f"sum by ({by}) " if by else "sum "
        return f"{grouping}(rate({metric}{{{selector}}}[{RATE}]))"

    def quantile(q: float, metric: str) -> str:
        return f"histogram_quantile({q}, {rate(metric + '_bucket', 'le, kind')})"

    return board(
        "examnet-self", "examnet / examnet itself",
        "Is the monitor well? Rounds, missed runs, its own ICMP losses, the database "
        "spool, SNMP polls and notification delivery.",
        [label_variable("instance", "Instance", "examnet_up")],
        [
            series("Scraped and running", "short", *refs(
                query(f"up{{{at}}}", "scraped {{instance}}"),
                query(f"examnet_up{{{at}}}", "schedule runs {{instance}}")), w=8),
            series("Rounds per second, by result", "reqps", query(
                rate("examnet_rounds_total", "kind, result"), "{{kind}} {{result}}"), w=8),
            series("Missed runs", "short", query(
                f"sum by (reason) (increase(examnet_missed_runs_total{{{at}}}[{RATE}]))",
                "{{reason}}"), w=8),
            series("Round duration", "s", *refs(
                query(quantile(0.5, "examnet_round_duration_seconds"), "{{kind}} p50"),
                query(quantile(0.99, "examnet_round_duration_seconds"), "{{kind}} p99"))),
            series("examnet's own ICMP trouble", "pps", *refs(
                query(rate("examnet_icmp_send_errors_total"), "send errors"),
                query(rate("examnet_icmp_socket_drops_total"), "socket drops"),
                query(rate("examnet_icmp_late_replies_total"), "late replies"),
                query(rate("examnet_icmp_stray_packets_total"), "stray packets"))),
            series("Targets not probed", "short", query(
                f"max(examnet_targets_not_probed{{{at}}})", "not probed"), w=8),
            series("Database queue", "short", query(
                f"max(examnet_db_queue_depth{{{at}}})", "rows waiting"), w=8),
            series("Database writes and errors", "ops", *refs(
                query(rate("examnet_db_rows_written_total"), "rows written"),
                query(rate("examnet_db_write_errors_total"), "write errors")), w=8),
            series("Rows dropped, by kind", "short", query(
                f"sum by (kind) (increase(examnet_db_rows_dropped_total{{{at}}}[{RATE}]))",
                "{{kind}}"), w=8),
            series("SNMP polls, by result", "reqps", query(
                rate("examnet_snmp_polls_total", "result"), "{{result}}"), w=8),
            series("Outbox, by state", "short", query(
                f"sum by (state) (examnet_outbox_notifications{{{at}}})", "{{state}}"), w=8),
            series("Notification failures", "short", query(
                "sum by (receiver, result) (increase(examnet_notification_attempts_total"
                f'{{{at}, result=~"failed|expired"}}[{RATE}]))', "{{receiver}} {{result}}"),
                w=8),
        ],
    )  # fmt: skip


DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "exam-day": exam_day,
    "site": site,
    "carrier": carrier,
    "examnet": examnet_itself,
}


def render(build: Callable[[], dict[str, Any]]) -> str:
    """Stable text: sorted keys, two-space indent, a final newline (byte-identical reruns)."""
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help="directory to write into")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        (out / f"{name}.json").write_text(render(build), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
