"""The `examnet` command: one sub-command per job, each in its own module."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from monitor import config, labguard
from monitor.console import printable_lines, quiet_on_broken_pipe
from monitor.history_cli import add_parsers as add_history_parsers
from monitor.model.inventory import Inventory
from monitor.model.rehearsal import RehearsalError, describe, rehearsed
from monitor.model.rehearsal import plan as plan_rehearsal
from monitor.oncall_cli import add_parsers as add_oncall_parsers
from monitor.oncall_cli import api_token
from monitor.report import cli as report_cli
from monitor.report.pdf import has_browser
from monitor.storage import cli as storage_cli
from monitor.storage import database_url
from monitor.web import (
    DEFAULT_LISTEN,
    TokenError,
    WebConfig,
    WebConfigError,
    check_token,
    is_loopback,
    load_web_config,
    parse_listen,
)
from probes.pinger import SocketMode

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

DEFAULT_CONFIG = Path("sites.toml")
LAB_PACKAGE = "examlab"  # the namespace lab: its own distribution, lab/pyproject.toml
LAB_MISSING = "the lab is not installed: pip install ./lab (from the examnet source tree)"

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

log = logging.getLogger("examnet")


def _config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="the inventory and plan (default ./sites.toml)",
    )


def _add_check(sub: Subparsers) -> None:
    p = sub.add_parser("check", help="validate sites.toml and print a summary")
    p.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=DEFAULT_CONFIG,
        help="the file to check (default ./sites.toml); exit 0 when usable, 2 with its problems",
    )
    p.set_defaults(func=_run_check)


class LabNotInstalledError(RuntimeError):
    """`examnet lab` or `--lab` asked for, and the lab's distribution is not installed."""


def lab_module(name: str) -> ModuleType:
    """A module of the namespace lab, imported at the point of use (`lab`, `--lab`, a lab file)."""
    # A plug-in boundary, not a hidden cycle: examlab imports the product, the product never it.
    try:
        return importlib.import_module(f"{LAB_PACKAGE}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in {LAB_PACKAGE, f"{LAB_PACKAGE}.{name}"}:
            raise
        raise LabNotInstalledError(LAB_MISSING) from None


def environment(path: Path) -> dict[str, str]:
    """The process environment, plus the lab-only secrets of a lab that is up.

    `examnet lab up` generates values for the variables a lab file uses and
    the environment does not set; variables set in the environment win.
    """
    prefix = config.lab_prefix_of(path)
    if prefix is None:
        return dict(os.environ)
    try:
        generated: dict[str, str] = lab_module("environment").lab_environment(prefix)
    except LabNotInstalledError:
        generated = {}  # no lab here, so no lab-only values: missing ones are config errors
    return {**generated, **os.environ}


def _config_error(exc: config.ConfigError, path: Path) -> int:
    print(printable_lines(str(exc)), file=sys.stderr)
    missing = any("environment variable" in p.message for p in exc.problems)
    if missing and config.lab_prefix_of(path) is not None:
        print(
            f"hint: {path} describes a lab; examnet lab up generates lab-only values for "
            "the variables the environment does not set (or run with --lab)",
            file=sys.stderr,
        )
    return EXIT_CONFIG


def with_machine_warnings(inventory: Inventory) -> Inventory:
    """The file's warnings, and what this machine lacks for it (a PDF report's browser)."""
    if has_browser():
        return inventory
    lacking = tuple(
        f'{inventory.source}: report "{r.name}": field "format": a PDF needs headless '
        "Chromium, which this machine lacks (install Debian's chromium): it will not be sent"
        for r in inventory.reports
        if r.form == "pdf"
    )
    return replace(inventory, warnings=inventory.warnings + lacking) if lacking else inventory


def _run_check(args: argparse.Namespace) -> int:
    try:
        inventory = config.load_inventory(args.file, environment(args.file))
    except config.ConfigError as exc:
        return _config_error(exc, args.file)
    inventory = with_machine_warnings(inventory)
    print(printable_lines(config.summarize(inventory)))
    return EXIT_OK


def _add_run(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="probe every link and endpoint on the exam calendar's cadence")
    _config_option(p)
    p.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy URL or SQLite file (default: $EXAMNET_DB, else ./examnet.db)",
    )
    p.add_argument(
        "--listen",
        default=os.environ.get("EXAMNET_LISTEN", DEFAULT_LISTEN),
        help=f"HTTP address for /metrics, /healthz and the API (default {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--web-config",
        type=Path,
        metavar="FILE",
        default=os.environ.get("EXAMNET_WEB_CONFIG"),
        help="TLS and basic auth of the HTTP port, in Prometheus's web config format "
        "(docs/metrics.md)",
    )
    p.add_argument(
        "--socket-mode",
        choices=[m.value for m in SocketMode],
        default="auto",
        help="ICMP sockets: unprivileged ping sockets, raw (root), or auto",
    )
    p.add_argument(
        "--max-rate",
        type=float,
        default=None,
        help="echo requests per second, all targets together (default 5000)",
    )
    p.add_argument(
        "--lab",
        action="store_true",
        help="bring the file's lab up for this run and down afterwards (root)",
    )
    p.add_argument(
        "--rehearse",
        nargs="?",
        const="",
        metavar="SESSION",
        help="rehearse exam day: move every date of the plan so SESSION (default: the "
        "first) starts now; exam-time cadence and severity, recorded for `status`",
    )
    p.set_defaults(func=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    if not args.lab:
        return _run_loaded(args)
    try:
        lab_cli = lab_module("cli")
    except LabNotInstalledError as exc:
        print(f"examnet run --lab: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    # the lab first: it generates the secrets the file's devices need
    up: int = lab_cli.main(["up", "--config", str(args.config)])
    if up != EXIT_OK:
        return up
    try:
        return _run_loaded(args)
    finally:
        lab_cli.main(["down", "--config", str(args.config)])


def _run_loaded(args: argparse.Namespace) -> int:
    from monitor import app  # noqa: PLC0415 - `check` need not load the monitor

    try:
        inventory = config.load_inventory(args.config, environment(args.config))
    except config.ConfigError as exc:
        return _config_error(exc, args.config)
    try:
        listen = parse_listen(args.listen)
        web = load_web_config(args.web_config) if args.web_config else WebConfig()
        token = api_token(os.environ)
        token = check_token(token) if token else None
    except (WebConfigError, TokenError) as exc:
        print(f"examnet run: refusing to start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ValueError as exc:
        print(f"--listen: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for warning in with_machine_warnings(inventory).warnings:
        log.warning("%s", warning)
    if web.tls is None and not is_loopback(listen[0]):
        log.warning(
            "the HTTP port listens on %s without TLS: metrics, credentials and the API token "
            "cross the network in clear (use --web-config, docs/metrics.md)",
            listen[0],
        )
    rehearsal = None
    if args.rehearse is not None:
        try:
            rehearsal = plan_rehearsal(inventory, datetime.now(UTC), args.rehearse)
        except RehearsalError as exc:
            print(f"examnet run: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        inventory = rehearsed(inventory, rehearsal)
        log.warning("REHEARSAL: %s", describe(rehearsal))
    options = app.RunOptions(
        db_url=database_url(args.db, os.environ),
        listen=listen,
        socket_mode=SocketMode(args.socket_mode),
        max_rate=args.max_rate,
        api_token=token,
        web=web,
        rehearsal=rehearsal,
    )
    try:
        labguard.check_lab_guard(inventory)
    except labguard.LabDownError as exc:
        print(f"examnet run: refusing to start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(app.run(inventory, options))


def _add_status(sub: Subparsers) -> None:
    p = sub.add_parser("status", help="the last known state of every site and target")
    _config_option(p)
    p.add_argument(
        "--db",
        metavar="URL",
        help="the monitor's database: SQLAlchemy URL or SQLite file "
        "(default: $EXAMNET_DB, else ./examnet.db)",
    )
    p.add_argument(
        "--json", action="store_true", help="print JSON (times in UTC, RFC 3339) for programs"
    )
    p.set_defaults(func=_run_status)


def _run_status(args: argparse.Namespace) -> int:
    from monitor import status  # noqa: PLC0415 - loaded only for status

    try:
        inventory = config.load_inventory(args.config, environment(args.config), need_secrets=False)
    except config.ConfigError as exc:
        return _config_error(exc, args.config)
    try:
        print(status.render(inventory, database_url(args.db, os.environ), as_json=args.json))
    except status.StatusError as exc:
        print(f"examnet status: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _add_lab(sub: Subparsers) -> None:
    """`examnet lab ...`: the lab's own parser reads the words after `lab` (`_main`)."""
    p = sub.add_parser(
        "lab",
        help="build and impair the namespace lab (root; `examnet lab --help`)",
        add_help=False,
    )
    p.add_argument("lab_argv", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=_run_lab)


def _run_lab(args: argparse.Namespace) -> int:
    try:
        lab_cli = lab_module("cli")
    except LabNotInstalledError as exc:
        print(f"examnet lab: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    result: int = lab_cli.main(args.lab_argv)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="examnet", description="Telecom availability monitor for exam sites."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("EXAMNET_LOG_LEVEL", "INFO"),
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR (default: $EXAMNET_LOG_LEVEL, else INFO)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_check(sub)
    _add_run(sub)
    _add_status(sub)
    add_oncall_parsers(sub)
    add_history_parsers(sub)
    _add_report(sub)
    storage_cli.add_parser(sub)
    _add_lab(sub)
    return parser


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="the plan's compliance report per session, site, carrier")
    report_cli.add_arguments(p)
    p.set_defaults(func=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    try:
        inventory = config.load_inventory(args.config, environment(args.config), need_secrets=False)
    except config.ConfigError as exc:
        return _config_error(exc, args.config)
    return report_cli.run(args, inventory)


def version() -> str:
    """The installed distribution's version (an unpacked source tree has none)."""
    try:
        return metadata.version("examnet")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """`examnet ...`; a reader that leaves a pipe early ends it quietly."""
    return quiet_on_broken_pipe(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(arguments)
    if args.command == "lab":  # everything from `lab` on is the lab's to parse
        args.lab_argv = arguments[arguments.index("lab") :]
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
