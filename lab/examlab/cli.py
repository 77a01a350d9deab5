"""`examnet lab up | down | status | impair | load | env`: the namespace lab from the command line.

Exit codes: 0 done, 1 the machine refused (not root, a command failed),
2 a bad file or argument (config errors, unknown target), 3 `status` of a
lab that is not up.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from examlab import build, environment, impair, simulate, status
from examlab.agents import POWER_MODES
from examlab.errors import LabError
from examlab.flood import DEFAULT_RATE, MAX_SECONDS, parse_rate
from examlab.impair import SIDES
from examlab.shaping import PROTECTED
from examlab.shell import Shell
from examlab.state import LabState, StateStore
from examlab.topology import (
    PREFIX_PATTERN,
    LabPlan,
    LabPlanError,
    Role,
    Target,
    UnknownTargetError,
    plan_lab,
)
from monitor import config
from monitor.console import quiet_on_broken_pipe
from monitor.model.inventory import Device, Inventory

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_UP = 3
DEFAULT_CONFIG = Path("sites.toml")
ROOT_MESSAGE = (
    "examnet lab needs root: it creates network namespaces, veth links, routes and qdiscs "
    "(run it with sudo)"
)
TARGET_ACTIONS = ("down", "up", "rate", "loss", "clear")
OWNER_ACTIONS = ("power", "cell-load", "snmp")
ACTIONS = TARGET_ACTIONS + OWNER_ACTIONS
IMPAIR_HELP = """\
Actions on a link (site/link) or an endpoint (its id):
  down | up [--side carrier|site]
      carrier (default): the upstream's end of the veth (an endpoint: the hub's,
      cutting every link behind it); site: the site's own interface, which its
      SNMP agent reports as ifOperStatus down(2); `up` restores the routes too.
  rate RATE
      a token bucket (tbf) both ways: everything queues behind a flood, pings
      (RTT rises) and SNMP polls (delayed, or dropped: they time out) alike.
  rate RATE --protect-snmp [--protect-ping]
      htb at the same total rate, with a priority class for SNMP (UDP 161) and,
      with --protect-ping, ICMP: polls still answer while a flood fills the
      rest (utilisation is measurable); unprotected pings still queue.
  loss PCT | clear   clear: no shaping, no loss, no flood towards it
Actions on a site or an endpoint (its id):
  power mains|battery|low   its UPS devices (UPS-MIB): on battery the minutes
                            left fall (one per 5 s); low: a few left, batteryLow
  cell-load PCT             its devices' custom OIDs under 1.3.6.1.4.1
  snmp stop|start|restart   its snmpd agents (restart: a reboot to a poller)
"""


class UsageError(ValueError):
    """A sub-command's argument that argparse alone cannot judge."""


Subparsers = argparse._SubParsersAction  # argparse names no public type for it


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most {MAX_SECONDS:.0f}")
    return value


def _rate(text: str) -> str:
    try:
        parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _prefix(text: str) -> str:
    if not PREFIX_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError("expected lower-case letters and digits")
    return text


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="sites.toml (default ./sites.toml)"
    )


def add_parser(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    """Add `lab` and its sub-commands to the `examnet` parser."""
    lab = subparsers.add_parser(
        "lab", help="build and impair the namespace lab (root)", description=__doc__
    )
    sub = lab.add_subparsers(dest="lab_command", required=True)
    _config_option(sub.add_parser("up", help="build the lab of --config (idempotent)"))
    down = sub.add_parser("down", help="remove the lab and everything it made")
    _config_option(down)
    down.add_argument("--prefix", type=_prefix, help="the lab's prefix, when the file is gone")
    _config_option(sub.add_parser("status", help="what is up, and each target's impairment"))
    impairing = sub.add_parser(
        "impair",
        help="impair a link, endpoint or site (see `lab impair --help`)",
        description=IMPAIR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _config_option(impairing)
    impairing.add_argument("target", help="a link as site/link, an endpoint id, or a site id")
    impairing.add_argument("action", choices=ACTIONS, help="what to do (see the list above)")
    impairing.add_argument("value", nargs="?", help="rate, percentage, power or snmp action")
    impairing.add_argument("--side", choices=SIDES, default="carrier", help="down|up only")
    for kind in PROTECTED:
        impairing.add_argument(
            f"--protect-{kind}", action="store_true", help=f"rate only: {kind} skips the queue"
        )
    env = sub.add_parser("env", help="print `export NAME=...` for the lab's generated secrets")
    _config_option(env)
    env.add_argument("--prefix", type=_prefix, help="the lab's prefix, when the file is gone")
    load = sub.add_parser("load", help="a bounded UDP flood towards a link or endpoint")
    _config_option(load)
    load.add_argument("target", help="a link as site/link, or an endpoint id")
    load.add_argument("--seconds", type=_seconds, required=True, help="at most 600")
    load.add_argument("--rate", type=_rate, default=DEFAULT_RATE, help="default 10mbit")
    load.add_argument("--wait", action="store_true", help="wait for the flood to end")
    lab.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `examnet lab ...`: checks root, then runs the sub-command."""
    if os.geteuid() != 0:
        print(ROOT_MESSAGE, file=sys.stderr)
        return EXIT_FAILURE
    try:
        return _HANDLERS[args.lab_command](args)
    except (
        config.ConfigError,
        LabPlanError,
        UnknownTargetError,
        UsageError,
        simulate.NothingToImpairError,
    ) as exc:
        print(_message(exc), file=sys.stderr)
        return EXIT_USAGE
    except (LabError, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"examnet lab: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _message(exc: Exception) -> str:
    # KeyError-like exceptions quote their argument; print the text itself
    return str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)


def _inventory(args: argparse.Namespace) -> Inventory:
    """The file with the lab's generated values (placeholders while it is not up)."""
    return environment.load_lab_inventory(args.config, os.environ)


def _plan(args: argparse.Namespace) -> LabPlan:
    return plan_lab(_inventory(args))


def _store(plan: LabPlan) -> StateStore:
    return StateStore(plan.prefix)


def devices_by_key(inventory: Inventory) -> dict[str, Device]:
    return {d.key: d for d in inventory.devices()}


def _up(args: argparse.Namespace) -> int:
    _prefix_found, values = environment.lab_values(args.config, os.environ)
    inventory = config.load_inventory(args.config, {**values, **os.environ})
    plan = plan_lab(inventory)
    built, _state = build.up(plan, Shell(), _store(plan), devices_by_key(inventory))
    path = environment.write_environment(plan.prefix, values)
    if not built:
        print(f"lab {plan.prefix} is already up as {args.config} describes: nothing changed")
        return EXIT_OK
    counts = status.role_counts(plan)
    print(
        f"lab {plan.prefix} is up: {len(plan.namespaces)} namespaces (1 hub, "
        f"{counts[Role.ENDPOINT]} endpoints, {counts[Role.SITE]} sites), "
        f"{len(plan.links)} links, {len(plan.agents)} SNMP agents\n"
        f"{plan.network} is routed via {plan.hub.ip} dev {plan.monitor_device}; "
        f"probes leave from {plan.monitor.ip}\n"
        f"{len(values)} secrets generated into {path} (`examnet lab env` prints them)"
    )
    return EXIT_OK


def _env(args: argparse.Namespace) -> int:
    prefix = args.prefix or environment.file_prefix(args.config)
    if prefix is None:
        raise UsageError(f"{args.config}: no usable [lab] prefix (or give --prefix)")
    if not environment.environment_path(prefix).exists():
        print(f"lab {prefix} is not up: no generated secrets", file=sys.stderr)
        return EXIT_NOT_UP
    print("\n".join(environment.export_lines(environment.lab_environment(prefix))))
    return EXIT_OK


def _down(args: argparse.Namespace) -> int:
    prefix = args.prefix or _plan(args).prefix
    removed, notes = build.down(prefix, Shell(), StateStore(prefix))
    print(f"lab {prefix} removed" if removed else f"lab {prefix} is not up: nothing to remove")
    for note in notes:
        print(f"note: {note}")
    return EXIT_OK


def _protected(args: argparse.Namespace) -> list[str]:
    return [kind for kind in PROTECTED if getattr(args, f"protect_{kind}", False)]


def _check_options(args: argparse.Namespace) -> None:
    if args.side != "carrier" and args.action not in {"down", "up"}:
        raise UsageError(f"impair {args.action} takes no --side (down and up do)")
    if _protected(args) and args.action != "rate":
        raise UsageError(f"impair {args.action} takes no --protect-* (rate does)")


def _impair(args: argparse.Namespace) -> int:
    _check_options(args)
    if args.action in OWNER_ACTIONS:
        return _impair_owner(args)
    plan = _plan(args)
    target = plan.target(args.target)
    change = _impairment(args.action, args.value, args.side, _protected(args))
    with build.changing(plan, _store(plan)) as state:
        change(plan, state, target, Shell())
    detail = f" {args.value}" if args.value else ""
    side = f" (side {args.side})" if args.side != "carrier" else ""
    protect = "".join(f" --protect-{kind}" for kind in _protected(args))
    print(f"{target.name}: {args.action}{detail}{protect}{side}")
    return EXIT_OK


Change = Callable[[LabPlan, LabState, Target, Shell], None]


def _impairment(action: str, value: str | None, side: str, protect: list[str]) -> Change:
    """The change an `impair` action stands for; its value checked before anything runs."""
    needs_value = action in {"rate", "loss"}
    if needs_value != (value is not None):
        wanted = "a value" if needs_value else "no value"
        raise UsageError(f"impair {action} takes {wanted} (rate 256kbit, loss 20)")
    if action == "rate":
        rate = _rate_value(str(value))
        return lambda _p, state, t, shell: impair.set_rate(state, t, rate, shell, protect)
    if action == "loss":
        percent = _percent(str(value))
        return lambda plan, state, t, shell: impair.set_loss(plan, state, t, percent, shell)
    if action == "clear":
        return impair.clear
    up = action == "up"
    return lambda plan, state, t, shell: impair.set_admin(
        plan, state, t, up=up, shell=shell, side=side
    )


OwnerChange = Callable[[LabPlan, LabState, str, Inventory, StateStore], list[str]]


def _owner_change(action: str, value: str | None) -> OwnerChange:
    """The change a site or endpoint action stands for, its value checked first."""
    if action == "power":
        mode = _choice(action, value, POWER_MODES)
        return lambda plan, state, owner, inventory, store: simulate.set_power(
            plan, state, owner, mode, devices=devices_by_key(inventory), directory=store.agents_dir
        )
    if action == "cell-load":
        percent = _percent(str(value), what="cell-load")
        return lambda plan, state, owner, inventory, store: simulate.set_cell_load(
            plan,
            state,
            owner,
            percent,
            devices=devices_by_key(inventory),
            directory=store.agents_dir,
        )
    what = _choice(action, value, simulate.SNMP_ACTIONS)
    return lambda plan, state, owner, _inventory, store: simulate.set_snmp(
        plan, state, owner, what, store.agents_dir
    )


def _choice(action: str, value: str | None, choices: Sequence[str]) -> str:
    if value is None or value not in choices:
        raise UsageError(f"impair {action} takes one of {', '.join(choices)}, got {value!r}")
    return value


def _impair_owner(args: argparse.Namespace) -> int:
    change = _owner_change(args.action, args.value)
    inventory = _inventory(args)
    plan = plan_lab(inventory)
    owner = plan.owner_namespace(args.target).owner
    store = _store(plan)
    with build.changing(plan, store) as state:
        changed = change(plan, state, owner, inventory, store)
    print(f"{owner}: {args.action} {args.value} ({', '.join(changed)})")
    return EXIT_OK


def _rate_value(text: str) -> str:
    try:
        parse_rate(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return text


def _percent(text: str, what: str = "loss") -> int:
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise UsageError(f"{what} {text!r}: expected a whole percentage from 0 to 100")
    return int(text)


def _load(args: argparse.Namespace) -> int:
    plan = _plan(args)
    target = plan.target(args.target)
    store = _store(plan)
    with build.changing(plan, store) as state:
        process = impair.start_flood(
            plan, state, target, seconds=args.seconds, rate=args.rate, store=store
        )
    print(
        f"flood pid {process.pid}: {args.rate} towards {target.name} ({target.address}) "
        f"for {args.seconds:g} s"
    )
    if args.wait:
        process.wait(timeout=args.seconds + 10)
        lines = store.flood_log.read_text().splitlines() if store.flood_log.exists() else []
        print(lines[-1] if lines else f"flood ended ({process.returncode})")
    return EXIT_OK


def rate_text(rate: str | None) -> str:
    """'256000bit' -> '256kbit'."""
    if rate is None:
        return "-"
    bps = int(rate.removesuffix("bit"))
    for unit, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bps >= scale and bps % scale == 0:
            return f"{bps // scale}{unit}"
    return rate


def _admin_text(t: status.TargetStatus) -> str:
    if t.admin_up is None:
        return "missing"
    carrier = "up" if t.admin_up else "down"
    return f"{carrier},site-down" if t.site_down else carrier


def _rate_cell(t: status.TargetStatus) -> str:
    return rate_text(t.rate) + "".join(f"+{kind}" for kind in t.protect)


def _owner_lines(s: status.LabStatus) -> list[str]:
    lines = [f"snmp agents: {s.agents_running}/{s.agents_planned} running"]
    for owner, o in s.owners:
        parts = [f"power {o.power}"] if o.power else []
        parts += [f"cell-load {o.cell_load}%"] if o.cell_load is not None else []
        parts += ["snmp stopped"] if o.snmp_stopped else []
        lines.append(f"{owner}: {', '.join(parts)}")
    return lines


def status_lines(s: status.LabStatus) -> list[str]:
    word = "up" if s.current else ("partial" if s.namespaces_present else "down")
    lines = [
        f"lab {s.prefix}: {word} ({s.namespaces_present}/{s.namespaces_planned} namespaces), "
        f"network {s.network}",
        f"root route {s.network} dev {s.prefix}-mon: {'present' if s.root_route else 'absent'}"
        + (f"; probes leave from {s.monitor_address}" if s.root_route else ""),
    ]
    if not s.namespaces_present:
        return lines
    rows = [("TARGET", "KIND", "ADDRESS", "NAMESPACE", "ADMIN", "RATE", "LOSS")]
    rows += [
        (
            t.name,
            t.kind,
            t.address,
            t.namespace,
            _admin_text(t),
            _rate_cell(t),
            "-" if t.loss is None else f"{t.loss}%",
        )
        for t in s.targets
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines += _owner_lines(s) if s.agents_planned else []
    now = time.time()
    lines += [
        f"flood pid {f.pid} towards {f.target}, {max(0, f.until - now):.0f} s left"
        for f in s.floods
    ]
    return lines


def _status(args: argparse.Namespace) -> int:
    plan = _plan(args)
    result = status.read(plan, _store(plan), Shell())
    print("\n".join(status_lines(result)))
    return EXIT_OK if result.current else EXIT_NOT_UP


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": _up,
    "down": _down,
    "status": _status,
    "impair": _impair,
    "load": _load,
    "env": _env,
}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m examlab.cli up --config FILE`: the same as `examnet lab up ...`."""
    return quiet_on_broken_pipe(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] != ["lab"]:
        arguments.insert(0, "lab")
    parser = argparse.ArgumentParser(prog="examnet")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(arguments)
    logging.basicConfig(level=os.environ.get("EXAMNET_LOG_LEVEL", "WARNING").upper())
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
