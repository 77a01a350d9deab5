"""`examnet report`: the plan's compliance report over a period, as HTML or Markdown.

Reads sites.toml (the plan, the sites, the language) and the database. The
calendar is the one the monitor ran on: a rehearsal's moved plan when the
last run was one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from monitor.model.calendar import Session
from monitor.model.inventory import Carrier, Inventory
from monitor.model.rehearsal import rehearsed
from monitor.oncall_cli import EXIT_FAILURE, EXIT_OK, _db_option, _moment, _open
from monitor.report.build import Scope
from monitor.report.pdf import PdfError, html_to_pdf
from monitor.report.produce import FORMATS, Format, read, render
from monitor.storage.engine import NoDatabaseError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `examnet report` (the command line loads the file and calls `run`)."""
    p.add_argument("--from", dest="since", type=_moment, required=True, help="ISO 8601 with a zone")
    p.add_argument("--to", dest="until", type=_moment, required=True, help="ISO 8601 with a zone")
    p.add_argument("--session", metavar="NAME", help="only this exam session")
    p.add_argument("--carrier", metavar="ID", help="only this carrier's links; names no other")
    p.add_argument("--format", choices=(*FORMATS, "pdf"), default="html",
                   help="html (self-contained, prints well), md (e-mail, chat) or pdf (needs "
                   "--output and Debian's chromium)")  # fmt: skip
    p.add_argument("--output", type=Path, metavar="FILE", help="default: standard output")
    p.add_argument(
        "--config",
        type=Path,
        default=Path("sites.toml"),
        metavar="FILE",
        help="the plan, sites and language (default ./sites.toml)",
    )
    _db_option(p)


def run(args: argparse.Namespace, inventory: Inventory) -> int:
    problem = _check(args, inventory.carriers, inventory.calendar.sessions)
    if problem:
        print(f"examnet report: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        store = _open(args, create=False)
    except NoDatabaseError as exc:
        print(f"examnet report: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        rehearsal = store.rehearsal()
        if rehearsal is not None:
            inventory = rehearsed(inventory, rehearsal)
        scope = Scope(args.since, args.until, datetime.now(UTC), args.session, args.carrier)
        form: Format = "md" if args.format == "md" else "html"  # a PDF is the page printed
        text = render(read(store, inventory, scope), inventory, form)
    finally:
        store.close()
    if args.format == "pdf":
        try:
            html_to_pdf(text, args.output)
        except PdfError as exc:
            print(f"examnet report: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    elif args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"examnet report: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_FAILURE
    return EXIT_OK


def _check(
    args: argparse.Namespace, carriers: Sequence[Carrier], sessions: Sequence[Session]
) -> str | None:
    if args.format == "pdf" and args.output is None:
        return "--format pdf needs --output FILE"
    if not args.since < args.until:
        return "--from must be before --to"
    if args.carrier is not None and args.carrier not in {c.id for c in carriers}:
        return f"no carrier {args.carrier!r} in the file"
    if args.session is not None and args.session not in {s.name for s in sessions}:
        return f"no exam session {args.session!r} in the calendar"
    if args.output is not None and not args.output.parent.is_dir():
        # before the seconds a report takes, not after
        return f"cannot write {args.output}: no directory {args.output.parent}"
    return None
