"""`examnet lab up | down | status | impair | load`: the namespace lab from the command line.

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

from monitor import config
from monitor.lab import netns
from monitor.lab.flood import DEFAULT_RATE, MAX_SECONDS, parse_rate
from monitor.lab.topology import (
    PREFIX_PATTERN,
    LabPlan,
    LabPlanError,
    Role,
    Target,
    UnknownTargetError,
    plan_lab,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_UP = 3
DEFAULT_CONFIG = Path("sites.toml")
ROOT_MESSAGE = (
    "examnet lab needs root: it creates network namespaces, veth links, routes and qdiscs "
    "(run it with sudo)"
)
ACTIONS = ("down", "up", "rate", "loss", "clear")


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
    impair = sub.add_parser("impair", help="down|up|rate RATE|loss PCT|clear a link or endpoint")
    _config_option(impair)
    impair.add_argument("target", help="a link as site/link, or an endpoint id")
    impair.add_argument("action", choices=ACTIONS)
    impair.add_argument("value", nargs="?", help="rate (e.g. 256kbit) or loss percentage")
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
    except (config.ConfigError, LabPlanError, UnknownTargetError, UsageError) as exc:
        print(_message(exc), file=sys.stderr)
        return EXIT_USAGE
    except (netns.LabError, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"examnet lab: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _message(exc: Exception) -> str:
    # KeyError-like exceptions quote their argument; print the text itself
    return str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)


def _plan(args: argparse.Namespace) -> LabPlan:
    return plan_lab(config.load_inventory(args.config, os.environ))


def _store(plan: LabPlan) -> netns.StateStore:
    return netns.StateStore(plan.prefix)


def _up(args: argparse.Namespace) -> int:
    plan = _plan(args)
    built, _state = netns.up(plan, netns.Shell(), _store(plan))
    if not built:
        print(f"lab {plan.prefix} is already up as {args.config} describes: nothing changed")
        return EXIT_OK
    counts = netns.role_counts(plan)
    print(
        f"lab {plan.prefix} is up: {len(plan.namespaces)} namespaces (1 hub, "
        f"{counts[Role.ENDPOINT]} endpoints, {counts[Role.SITE]} sites), "
        f"{len(plan.links)} links\n"
        f"{plan.network} is routed via {plan.hub.ip} dev {plan.monitor_device}; "
        f"probes leave from {plan.monitor.ip}"
    )
    return EXIT_OK


def _down(args: argparse.Namespace) -> int:
    prefix = args.prefix or _plan(args).prefix
    removed, notes = netns.down(prefix, netns.Shell(), netns.StateStore(prefix))
    print(f"lab {prefix} removed" if removed else f"lab {prefix} is not up: nothing to remove")
    for note in notes:
        print(f"note: {note}")
    return EXIT_OK


def _impair(args: argparse.Namespace) -> int:
    plan = _plan(args)
    target = plan.target(args.target)
    change = _impairment(args.action, args.value)
    with netns.changing(plan, _store(plan)) as state:
        change(plan, state, target, netns.Shell())
    detail = f" {args.value}" if args.value else ""
    print(f"{target.name}: {args.action}{detail}")
    return EXIT_OK


Change = Callable[[LabPlan, netns.LabState, Target, netns.Shell], None]


def _impairment(action: str, value: str | None) -> Change:
    """The change an `impair` action stands for; its value checked before anything runs."""
    needs_value = action in {"rate", "loss"}
    if needs_value != (value is not None):
        wanted = "a value" if needs_value else "no value"
        raise UsageError(f"impair {action} takes {wanted} (rate 256kbit, loss 20)")
    if action == "rate":
        rate = _rate_value(str(value))
        return lambda _p, state, t, shell: netns.set_rate(state, t, rate, shell)
    if action == "loss":
        percent = _percent(str(value))
        return lambda plan, state, t, shell: netns.set_loss(plan, state, t, percent, shell)
    if action == "clear":
        return netns.clear
    up = action == "up"
    return lambda plan, state, t, shell: netns.set_admin(plan, state, t, up=up, shell=shell)


def _rate_value(text: str) -> str:
    try:
        parse_rate(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return text


def _percent(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise UsageError(f"loss {text!r}: expected a whole percentage from 0 to 100")
    return int(text)


def _load(args: argparse.Namespace) -> int:
    plan = _plan(args)
    target = plan.target(args.target)
    store = _store(plan)
    with netns.changing(plan, store) as state:
        process = netns.start_flood(
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


def _admin_text(admin_up: bool | None) -> str:
    return "missing" if admin_up is None else ("up" if admin_up else "down")


def status_lines(s: netns.LabStatus) -> list[str]:
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
            _admin_text(t.admin_up),
            rate_text(t.rate),
            "-" if t.loss is None else f"{t.loss}%",
        )
        for t in s.targets
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    now = time.time()
    lines += [
        f"flood pid {f.pid} towards {f.target}, {max(0, f.until - now):.0f} s left"
        for f in s.floods
    ]
    return lines


def _status(args: argparse.Namespace) -> int:
    plan = _plan(args)
    result = netns.status(plan, _store(plan), netns.Shell())
    print("\n".join(status_lines(result)))
    return EXIT_OK if result.current else EXIT_NOT_UP


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": _up,
    "down": _down,
    "status": _status,
    "impair": _impair,
    "load": _load,
}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m monitor.lab.cli up --config FILE`: the same as `examnet lab up ...`."""
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
