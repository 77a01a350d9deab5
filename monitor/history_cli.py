"""`examnet token create|list|revoke` and `examnet incidents`: access and the history.

Both act on the database (`--db`, else $EXAMNET_DB, else ./examnet.db).
`examnet incidents` runs the same query as `GET /api/incidents`
(`monitor.storage.history.search`), so the command and the API agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from monitor.config import ConfigError, load_inventory
from monitor.console import printable, printable_lines
from monitor.oncall_cli import EXIT_OK, EXIT_USAGE, _db_option, _moment, _run
from monitor.storage.history import MAX_LIMIT, SORTS, IncidentQuery
from monitor.storage.schema import ROLES
from monitor.storage.store import Store
from monitor.views import (
    COLUMNS,
    export_csv,
    export_json,
    export_row,
    history_json,
    lifetime,
    token_json,
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="API tokens: create (shown once), list, revoke")
    commands = token.add_subparsers(dest="token_command", required=True)
    p = commands.add_parser("create", help="create a token and print it, once")
    p.add_argument("--role", required=True, choices=ROLES, help="carrier: its own carrier's "
                   "incidents; noc: all, and ack, note, silence; admin: and tokens")  # fmt: skip
    p.add_argument("--carrier", metavar="ID", help="a carrier token's carrier (required for it)")
    p.add_argument(
        "--expires", type=_lifetime, metavar="TIME", help='"30d", "12h", "8w" (default: never)'
    )
    p.add_argument("--name", required=True, help="who holds it (audited, shown in lists)")
    p.add_argument("--by", default="examnet token", help="who creates it (audited)")
    p.add_argument("--config", type=Path, default=Path("sites.toml"), metavar="FILE",
                   help="where --carrier must be declared (default ./sites.toml)")  # fmt: skip
    _db_option(p)
    p.set_defaults(func=_run_create)
    p = commands.add_parser("list", help="the tokens, without their secrets")
    p.add_argument("--json", action="store_true", help="print JSON for programs")
    _db_option(p)
    p.set_defaults(func=_run_list)
    p = commands.add_parser("revoke", help="revoke a token now")
    p.add_argument("token", metavar="NAME|ID", help="the token's name or id (token list)")
    p.add_argument("--by", default="examnet token", help="who revokes it (audited)")
    _db_option(p)
    p.set_defaults(func=_run_revoke)
    _add_incidents(sub)


def _add_incidents(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("incidents", help="the incident history, filtered: table, CSV or JSON")
    for name in ("carrier", "site", "kind", "severity", "phase", "session"):
        p.add_argument(f"--{name}", help=f"only incidents of this {name}")
    p.add_argument("--district", help="the sites of a district (reads --config)")
    p.add_argument("--config", type=Path, default=Path("sites.toml"), metavar="FILE",
                   help="for --district")  # fmt: skip
    p.add_argument("--state", choices=("open", "closed"), help="open or closed incidents only")
    p.add_argument("--since", type=_moment, help="ISO 8601 with a zone")
    p.add_argument("--until", type=_moment, help="ISO 8601 with a zone")
    p.add_argument("-q", "--text", dest="q", help="free text in subject, reason, site, kind")
    p.add_argument("--sort", choices=SORTS, default="-started_at", help="- for descending")
    p.add_argument("--limit", type=int, default=MAX_LIMIT, help="at most this many (max 1000)")
    p.add_argument("--offset", type=int, default=0, help="skip this many (paging)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="csv starts with a UTF-8 BOM, for spreadsheets")  # fmt: skip
    _db_option(p)
    p.set_defaults(func=_run_incidents)


def _lifetime(text: str) -> timedelta:
    try:
        return lifetime(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _unknown_carrier(args: argparse.Namespace) -> str | None:
    """Why --carrier cannot be: a mistyped one would make a token that sees nothing."""
    if args.carrier is None:
        return None
    try:
        inventory = load_inventory(args.config, need_secrets=False)
    except ConfigError as exc:
        return f"cannot check --carrier against {args.config} (give --config FILE):\n{exc}"
    known = [c.id for c in inventory.carriers]
    if args.carrier in known:
        return None
    return f"{args.config} declares no carrier {args.carrier!r} (it has: {', '.join(known)})"


def _run_create(args: argparse.Namespace) -> int:
    problem = _unknown_carrier(args)
    if problem is not None:
        print(printable_lines(f"examnet token: {problem}"), file=sys.stderr)
        return EXIT_USAGE

    def act(store: Store) -> int:
        now = _now()
        expires = None if args.expires is None else now + args.expires
        token, info = store.access.create_token(
            name=args.name, role=args.role, carrier=args.carrier, expires_at=expires,
            by=args.by, now=now,
        )  # fmt: skip
        until = info.expires_at.isoformat() if info.expires_at else "never"
        print(
            printable(f"token {info.id} {info.name!r} ({info.role}) expires {until}"),
            file=sys.stderr,
        )
        print("it is shown this once; only its hash is stored:", file=sys.stderr)
        print(token)
        return EXIT_OK

    return _run(args, act)


def _run_list(args: argparse.Namespace) -> int:
    def act(store: Store) -> int:
        now = _now()
        found = [token_json(t, now) for t in store.access.tokens()]
        if args.json:
            print(json.dumps(found, ensure_ascii=False, indent=1))
            return EXIT_OK
        for t in found:
            state = "usable" if t["usable"] else ("revoked" if t["revoked_at"] else "expired")
            scope = f" carrier={t['carrier']}" if t["carrier"] else ""
            line = (
                f"{t['id']:>4}  {t['name']}  {t['role']}{scope}  {state}  "
                f"created {t['created_at']} by {t['created_by']}  expires {t['expires_at'] or '-'}"
            )
            print(printable(line))
        if not found:
            print("no tokens")
        return EXIT_OK

    return _run(args, act, create=False)


def _run_revoke(args: argparse.Namespace) -> int:
    def act(store: Store) -> int:
        info = store.access.revoke_token(args.token, args.by, _now())
        print(printable(f"token {info.id} {info.name!r} revoked"))
        return EXIT_OK

    return _run(args, act, create=False)


def _sites(args: argparse.Namespace) -> list[str] | None:
    """The sites to look at; a district is looked up in --config, and one it does
    not name is refused rather than answered with an empty history."""
    if args.district is None:
        return None if args.site is None else [args.site]
    inventory = load_inventory(args.config, need_secrets=False)
    districts = sorted({s.district for s in inventory.sites if s.district})
    if args.district not in districts:
        known = ", ".join(districts) or "none"
        raise ValueError(f"{args.config} names no district {args.district!r} (it has: {known})")
    return [
        s.id for s in inventory.sites
        if s.district == args.district and args.site in (None, s.id)
    ]  # fmt: skip


def _run_incidents(args: argparse.Namespace) -> int:
    try:
        sites = _sites(args)
    except ConfigError as exc:
        print(printable_lines(str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(printable(f"examnet incidents: {exc}"), file=sys.stderr)
        return EXIT_USAGE

    def act(store: Store) -> int:
        for column in ("carrier", "site"):  # a typo must not read as a quiet history
            wanted = getattr(args, column)
            if wanted is None:
                continue
            known = store.access.names(column)
            if wanted not in known:
                listed = sorted(known)
                more = f", … {len(listed) - 20} more" if len(listed) > 20 else ""
                shown = ", ".join(listed[:20]) + more or "none yet"
                print(printable(f"examnet incidents: no {column} {wanted!r} in the database "
                                f"(it knows: {shown})"), file=sys.stderr)  # fmt: skip
                return EXIT_USAGE
        query = IncidentQuery(
            carrier=args.carrier, sites=sites, kind=args.kind, severity=args.severity,
            state=args.state, since=args.since, until=args.until, phase=args.phase,
            session=args.session, text=args.q, sort=args.sort, limit=args.limit,
            offset=args.offset,
        )  # fmt: skip
        page = store.access.search(query)
        found = [history_json(i, None) for i in page.incidents]
        write_incidents(found, page.total, args.format, sys.stdout)
        return EXIT_OK

    return _run(args, act, create=False)


def write_incidents(found: list[dict[str, Any]], total: int, form: str, out: TextIO) -> None:
    if form == "json":
        out.write(export_json(found, total))
    elif form == "csv":
        out.write(export_csv(found))
    else:
        rows = [list(COLUMNS), *(export_row(item) for item in found)]
        widths = [min(40, max(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]
        for row in rows:
            cells = (cell[:40].ljust(width) for cell, width in zip(row, widths, strict=True))
            out.write(printable("  ".join(cells).rstrip()) + "\n")
        out.write(f"{len(found)} of {total} incidents\n")
