"""`examnet silence add|list|expire` and `examnet ack`: on-call's commands.

They act on the database (`--db`, else $EXAMNET_DB, else ./examnet.db), so
they work beside a running monitor, which picks the change up within seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from monitor.config import plan_zone_of
from monitor.config.values import duration
from monitor.console import local_time, printable
from monitor.operations import (
    OperationError,
    SilenceRequest,
    acknowledge,
    add_silence,
    expire_silence,
    silence_json,
)
from monitor.storage import database_url
from monitor.storage.engine import ENV_VARIABLE, NoDatabaseError, no_data, require_sqlite_file
from monitor.storage.store import Store
from monitor.storage.tokens import TokenStoreError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
API_TOKEN_VARIABLE = "EXAMNET_API_TOKEN"  # noqa: S105 - a variable name


def api_token(env: Mapping[str, str]) -> str | None:
    """The API's bearer token: $EXAMNET_API_TOKEN, or the file $EXAMNET_API_TOKEN_FILE names."""
    token = env.get(API_TOKEN_VARIABLE)
    path = env.get(f"{API_TOKEN_VARIABLE}_FILE")
    if not token and path:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    return token or None


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    silence = sub.add_parser("silence", help="hold notifications of matching alerts for a while")
    commands = silence.add_subparsers(dest="silence_command", required=True)

    p = commands.add_parser("add", help="silence alerts whose labels match every --matcher")
    p.add_argument(
        "matchers", nargs="+", metavar="MATCHER", help='e.g. carrier="viettel" site=~"thpt-.*"'
    )
    p.add_argument("--by", required=True, help="who (audited)")
    p.add_argument("--comment", required=True, help="why (audited)")
    p.add_argument("--start", type=_moment, help="ISO 8601 with a zone (default: now)")
    end = p.add_mutually_exclusive_group(required=True)
    end.add_argument("--end", type=_moment, help="ISO 8601 with a zone")
    end.add_argument("--duration", type=_duration, help='e.g. "2h", "90m"')
    _db_option(p)
    _zone_option(p)
    p.set_defaults(func=_run_add)

    p = commands.add_parser("list", help="silences in effect and to come (--all: and ended ones)")
    p.add_argument("--all", action="store_true", help="ended silences too")
    p.add_argument("--json", action="store_true", help="print JSON (times in UTC) for programs")
    _db_option(p)
    _zone_option(p)
    p.set_defaults(func=_run_list)

    p = commands.add_parser("expire", help="end a silence now")
    p.add_argument("id", help="the silence id (examnet silence list)")
    p.add_argument("--by", required=True, help="who (audited)")
    _db_option(p)
    _zone_option(p)
    p.set_defaults(func=_run_expire)

    p = sub.add_parser(
        "ack", help="acknowledge an incident: its alert stops repeating and escalating"
    )
    p.add_argument("incident", help="the incident id (examnet status) or the alert's fingerprint")
    p.add_argument("--by", required=True, help="who (stored on the incident)")
    p.add_argument("--note", default="", help="what is being done")
    _db_option(p)
    _zone_option(p)
    p.set_defaults(func=_run_ack)


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help=f"default: ${ENV_VARIABLE}, else ./examnet.db")


def _zone_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=Path("sites.toml"),
        metavar="FILE",
        help="times are shown in the time zone of its plan (default ./sites.toml)",
    )


def _zone(args: argparse.Namespace) -> tzinfo:
    return plan_zone_of(args.config)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a zone, e.g. {text}+07:00")
    return moment


def _duration(text: str) -> timedelta:
    try:
        return timedelta(seconds=duration()(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _open(args: argparse.Namespace, *, create: bool = True) -> Store:
    """The database, migrated; `create=False` for commands that only read, which
    refuse one the monitor never wrote rather than answer from an empty one."""
    url = database_url(args.db, os.environ)
    if not create:
        require_sqlite_file(url)
    store = Store(url)
    if not create and store.current_revision() is None:
        store.close()
        raise no_data(url)
    store.upgrade()
    return store


def _now() -> datetime:
    return datetime.now(UTC)


def _run(args: argparse.Namespace, action: Any, *, create: bool = True) -> int:
    """`action` on the database; its refusals are one line on stderr and exit 1."""
    try:
        store = _open(args, create=create)
    except NoDatabaseError as exc:
        print(f"examnet {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        return int(action(store))
    except (OperationError, TokenStoreError) as exc:
        print(f"examnet {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        store.close()


def _run_add(args: argparse.Namespace) -> int:
    def act(store: Store) -> int:
        request = SilenceRequest(
            tuple(args.matchers), args.by, args.comment, args.start, args.end, args.duration
        )
        added = add_silence(store.alerting, request, _now())
        s = added.record
        until = local_time(s.ends_at, _zone(args))
        print(printable(f"silence {s.id} until {until}: {' '.join(s.matchers)}"))
        print(f"it matches {_alerts(added.matching)} now")
        if not added.matching:
            print(
                "examnet silence: warning: it matches no open alert now; check the values "
                "if you meant one that fires",
                file=sys.stderr,
            )
        return EXIT_OK

    return _run(args, act)


def _run_list(args: argparse.Namespace) -> int:
    def act(store: Store) -> int:
        now = _now()
        found = [silence_json(s, now) for s in store.alerting.silences()]
        if not args.all:
            found = [s for s in found if s["state"] != "expired"]
        if args.json:
            print(json.dumps(found, ensure_ascii=False, indent=1))
            return EXIT_OK
        if not found:
            print("no silences" if args.all else "no silence in effect or to come")
        zone = _zone(args)
        for s in found:
            print(printable(_silence_line(s, zone)))
        return EXIT_OK

    return _run(args, act)


def _silence_line(s: dict[str, Any], zone: tzinfo) -> str:
    """One silence for a person: its period in the plan's zone, with the offset."""
    ended = f", ended by {s['expired_by']}" if s["expired_by"] else ""
    starts = local_time(datetime.fromisoformat(s["starts_at"]), zone)
    ends = local_time(datetime.fromisoformat(s["ends_at"]), zone)
    return (
        f"{s['id']}  {s['state']:<8} {starts} → {ends}  "
        f"{' '.join(s['matchers'])}  (by {s['created_by']}: {s['comment']}{ended})"
    )


def _run_expire(args: argparse.Namespace) -> int:
    def act(store: Store) -> int:
        s = expire_silence(store.alerting, args.id, args.by, _now())
        ended = local_time(s.ends_at, _zone(args))
        print(printable(f"silence {s.id} ended at {ended} by {s.expired_by}"))
        return EXIT_OK

    return _run(args, act)


def _run_ack(args: argparse.Namespace) -> int:
    def act(store: Store) -> int:
        i = acknowledge(store.alerting, args.incident, args.by, args.note, _now())
        r = i.record
        done = f"incident {i.id} ({r.kind} of {r.subject}) acknowledged by {i.acknowledged_by}"
        print(printable(done))
        for ack in i.acks[:-1]:
            note = f": {ack.note}" if ack.note else ""
            at = local_time(ack.at, _zone(args))
            print(printable(f"  earlier: {ack.by} at {at}{note}"))
        return EXIT_OK

    return _run(args, act)


def _alerts(count: int) -> str:
    return f"{count} open alert" + ("" if count == 1 else "s")
