"""Reading a file: TOML syntax, the top-level sections, whole-file checks, the Inventory."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config.alerting import read_alerting, read_routes, read_silences, warn_unused
from monitor.config.calendar import read_calendar
from monitor.config.carriers import Known, read_carriers, read_endpoints
from monitor.config.devices import check_poll_budgets
from monitor.config.files import MAX_CONFIG_BYTES, UnreadableFileError, read_regular
from monitor.config.judging import read_monitor, read_readiness, read_severity
from monitor.config.nesting import MAX_NESTING, position_text, too_deep
from monitor.config.notifiers import read_notifiers
from monitor.config.probe import read_probe, read_snmp_settings, read_thresholds
from monitor.config.problems import BadValueError, ConfigError, describe
from monitor.config.reader import Context, Reader
from monitor.config.reports import read_reports
from monitor.config.retention import read_retention
from monitor.config.secrets import variable_names
from monitor.config.sites import read_sites
from monitor.config.values import (
    address_key,
    lab_address_problem,
    lab_network,
    lab_prefix,
    nonempty_text,
    timezone,
)
from monitor.model.calendar import Plan
from monitor.model.inventory import (
    DEFAULT_TIMEZONE,
    SCHEMA_VERSION,
    Endpoint,
    Inventory,
    Lab,
    Site,
    SnmpSettings,
    Thresholds,
)
from monitor.model.redundancy import fake_redundancy

# --------------------------------------------------------------------------
# top level: version, plan, lab


def unattributed_devices(site: Site) -> list[str]:
    """Devices whose link the addresses do not tell: their silence is never explained."""
    return [
        f'site "{site.id}" device "{d.id}": {d.address} is the address of no link, so its '
        "outages are not attributed to a link that is down; set via = LINK"
        for d in site.devices
        if d.parent is None
    ]


def read_version(root: Reader) -> bool:
    """False when the file is another version: nothing else in it can be judged."""
    value = root.raw("version")
    if value is None:
        root.problem("version", f"is required: write version = {SCHEMA_VERSION} at the top")
        return True
    if value == SCHEMA_VERSION and type(value) is int:
        return True
    root.problem(
        "version",
        f"expected {SCHEMA_VERSION} (the version this examnet reads), got {describe(value)}",
    )
    return not (isinstance(value, int) and not isinstance(value, bool))


def read_plan(root: Reader) -> Plan | None:
    r = root.section("plan")
    if r is None:
        return None
    name = r.get("name", nonempty_text, required=True)
    zone = r.opt("timezone", timezone, ZoneInfo(DEFAULT_TIMEZONE))
    r.done()
    root.ctx.zone = zone
    return None if name is None else Plan(name=name, timezone=zone)


def read_lab(root: Reader) -> Lab | None:
    if not root.has("lab"):
        return None
    r = root.sub("lab")
    if r is None:
        return None
    network = r.get("network", lab_network, required=True)
    prefix = r.get("prefix", lab_prefix, required=True)
    r.done()
    if network is None or prefix is None:
        return None
    return Lab(network=network, prefix=prefix)


# --------------------------------------------------------------------------
# whole-file checks: addresses


def check_addresses(ctx: Context, lab: Lab | None) -> None:
    """Two targets never share an address; with a lab, every address lies inside it."""
    owners: dict[str, str | None] = {}
    for item, value, is_target in ctx.addresses:
        message = lab_address_problem(value, lab) if lab is not None else None
        if message is not None:
            ctx.add(item, "address", message)
        if not is_target:
            continue
        key = address_key(value)
        if key in owners:
            ctx.add(item, "address", f"{value} is also the address of {owners[key]}")
        else:
            owners[key] = item


# --------------------------------------------------------------------------
# whole-file checks: devices


def check_device_owners(ctx: Context, sites: Sequence[Site], endpoints: Sequence[Endpoint]) -> None:
    """`device:OWNER/ID` keys must say whose device it is: a site or an endpoint, not both."""
    with_devices = {e.id for e in endpoints if e.devices}
    for site in sites:
        if site.devices and site.id in with_devices:
            ctx.add(
                f'site "{site.id}"',
                "devices",
                f'endpoint "{site.id}" has devices too, and their keys (device:{site.id}/ID) '
                "would collide; give the site or the endpoint another id",
            )


def check_devices(
    ctx: Context, sites: Sequence[Site], endpoints: Sequence[Endpoint], snmp: SnmpSettings | None
) -> None:
    check_device_owners(ctx, sites, endpoints)
    if snmp is not None:  # with a broken [snmp], timeouts cannot be judged
        devices = [d for site in sites for d in site.devices]
        devices += [d for endpoint in endpoints for d in endpoint.devices]
        check_poll_budgets(ctx, devices, snmp)


# --------------------------------------------------------------------------
# loading


def read_document(path: Path, ctx: Context) -> dict[str, Any] | None:
    try:
        raw = read_regular(path, MAX_CONFIG_BYTES)
    except UnreadableFileError as exc:
        ctx.add(None, None, f"cannot read: {exc}")
        return None
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        ctx.add(None, None, f"cannot read: not UTF-8 text (bad byte at offset {exc.start})")
        return None
    return parse_document(source, ctx)


def parse_document(source: str, ctx: Context) -> dict[str, Any] | None:
    deep = too_deep(source)
    if deep is not None:
        ctx.add(
            position_text(source, deep),
            None,
            f"nested too deeply: examnet reads at most {MAX_NESTING} levels of arrays, "
            "tables and dotted keys",
        )
        return None
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        where, message = syntax_position(source, str(exc))
        ctx.add(where, None, f"TOML syntax error: {message}")
        return None


_AT = re.compile(r"(.*) \(at (?:line (\d+), column (\d+)|end of document)\)", re.DOTALL)


def syntax_position(source: str, message: str) -> tuple[str, str]:
    """tomllib's message split into `line L, column C` and the rest."""
    found = _AT.fullmatch(message)
    if found is None:
        return "line ?, column ?", message
    if found[2] is not None:
        return f"line {found[2]}, column {found[3]}", found[1]
    src = source.replace("\r\n", "\n")  # what tomllib counts in
    line = src.count("\n") + 1
    column = len(src) - src.rfind("\n")
    return f"line {line}, column {column}", found[1]


def build(document: Mapping[str, object], source: Path, ctx: Context) -> Inventory | None:
    root = Reader(ctx, document, None)
    if not read_version(root):
        return None
    plan = read_plan(root)
    lab = read_lab(root)
    calendar = read_calendar(root)
    probe = read_probe(root)
    snmp = read_snmp_settings(root)
    defaults = read_thresholds(root.section("thresholds"), Thresholds())
    known = Known()
    carriers = read_carriers(root, known)
    endpoints = read_endpoints(root, known)
    sites = read_sites(root, known, defaults)
    severity = read_severity(root)
    readiness = read_readiness(root)
    monitor = read_monitor(root, lab)
    alerting = read_alerting(root)
    notifiers, receivers = read_notifiers(root, alerting.language)
    routes = read_routes(root, alerting, receivers)
    warn_unused(root, notifiers, routes)
    silences = read_silences(root)
    retention = read_retention(root)
    reports = read_reports(root, notifiers, known.carriers)
    root.done()
    check_addresses(ctx, lab)
    check_devices(ctx, sites, endpoints, snmp)
    if ctx.problems or plan is None or calendar is None or snmp is None:
        return None
    # fake redundancy is judged on a complete file: a warning, as the file is usable
    ctx.warnings += [
        f"{ctx.file}: {warning}" for site in sites for warning in unattributed_devices(site)
    ]
    ctx.warnings += [
        f"{ctx.file}: {warning}" for site in sites for warning in fake_redundancy(site)
    ]
    return Inventory(
        source=source,
        plan=plan,
        calendar=calendar,
        carriers=tuple(carriers),
        endpoints=tuple(endpoints),
        sites=tuple(sites),
        thresholds=defaults,
        probe=probe,
        lab=lab,
        warnings=tuple(ctx.warnings),
        snmp=snmp,
        severity=severity,
        readiness=readiness,
        monitor=monitor,
        alerting=alerting,
        notifiers=tuple(notifiers),
        routes=tuple(routes),
        silences=tuple(silences),
        retention=retention,
        reports=tuple(reports),
    )


def load_inventory(
    path: Path, env: Mapping[str, str] | None = None, *, need_secrets: bool = True
) -> Inventory:
    """Parse and check `path`; raise ConfigError with every problem found.

    `env` supplies ${NAME} values (default: the process environment). With
    `need_secrets=False` (commands that probe nothing and send nothing), a
    credential whose variable is unset is withheld instead of a problem.
    """
    ctx = Context(str(path), os.environ if env is None else env, need_secrets=need_secrets)
    document = read_document(Path(path), ctx)
    inventory = None if document is None else build(document, Path(path), ctx)
    if inventory is None:
        if not ctx.problems:  # pragma: no cover - every None comes with a problem
            ctx.add(None, None, "could not be loaded")
        raise ConfigError(ctx.file, ctx.all_problems())
    return inventory


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def referenced_variables(path: Path) -> frozenset[str]:
    """Every NAME a string value of `path` uses as ${NAME}, without needing any of them.

    The lab generates values for the unset ones: lab-only secrets never live
    in the repository. Raises ConfigError when the file cannot be parsed.
    """
    ctx = Context(str(path), {})
    document = read_document(Path(path), ctx)
    if document is None:
        raise ConfigError(ctx.file, ctx.problems)
    return frozenset(name for text in strings_in(document) for name in variable_names(text))


def lab_prefix_of(path: Path) -> str | None:
    """The `[lab] prefix` of a file, read without validating anything else.

    Lets a command find the lab's generated secrets before the full load
    (which needs them); None when the file has no lab or cannot be read.
    """
    ctx = Context(str(path), {})
    try:
        document = read_document(Path(path), ctx)
    except OSError:
        return None
    lab = document.get("lab") if document is not None else None
    prefix = lab.get("prefix") if isinstance(lab, dict) else None
    return prefix if isinstance(prefix, str) else None


def plan_zone_of(path: Path) -> ZoneInfo:
    """The `[plan] timezone` of a file, read without validating anything else.

    For commands that show times but need no inventory (`silence list`): the
    loader's default when the file or its zone is unusable, as the times
    shown carry their offset anyway.
    """
    document = read_document(Path(path), Context(str(path), {}))
    plan = document.get("plan") if document is not None else None
    written = plan.get("timezone") if isinstance(plan, dict) else None
    try:
        return timezone(written)
    except BadValueError:
        return ZoneInfo(DEFAULT_TIMEZONE)
