"""`examnet db upgrade | current | stats`: the schema by hand (`examnet run` upgrades by
itself), and what the database holds (retention at work)."""

from __future__ import annotations

import argparse
import os
import sys

from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from monitor.storage import migrate
from monitor.storage.engine import ENV_VARIABLE, database_url, describe_error
from monitor.storage.stats import render
from monitor.storage.store import Store

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `db` and its sub-commands on the `examnet` parser."""
    db = subparsers.add_parser("db", help="manage the database schema")
    commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = commands.add_parser("upgrade", help="apply the migrations up to the newest")
    _add_db_option(upgrade)
    upgrade.set_defaults(func=run_upgrade)
    current = commands.add_parser("current", help="print the schema revision of the database")
    _add_db_option(current)
    current.set_defaults(func=run_current)
    stats = commands.add_parser("stats", help="rows, size and oldest row of every table")
    _add_db_option(stats)
    stats.set_defaults(func=run_stats)


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help=f"SQLAlchemy URL or SQLite file (default: ${ENV_VARIABLE}, else ./examnet.db)",
    )


def run_upgrade(args: argparse.Namespace) -> int:
    store = _open(args.db)
    if store is None:
        return EXIT_USAGE
    try:
        store.upgrade()
        revision = store.current_revision()
    except SQLAlchemyError as exc:
        return _failed(f"cannot upgrade {store.url}", exc, args.db)
    finally:
        store.close()
    print(f"{store.url}: schema at revision {revision} (head)")
    return EXIT_OK


def run_current(args: argparse.Namespace) -> int:
    store = _open(args.db)
    if store is None:
        return EXIT_USAGE
    try:
        revision = store.current_revision()
    except SQLAlchemyError as exc:
        return _failed(f"cannot read {store.url}", exc, args.db)
    finally:
        store.close()
    head = migrate.head_revision()
    status = "head" if revision == head else f"head is {head}: run `examnet db upgrade`"
    print(f"{store.url}: schema at revision {revision or 'none'} ({status})")
    return EXIT_OK


def run_stats(args: argparse.Namespace) -> int:
    store = _open(args.db)
    if store is None:
        return EXIT_USAGE
    try:
        found = store.figures()
    except SQLAlchemyError as exc:
        return _failed(f"cannot read {store.url}", exc, args.db)
    finally:
        store.close()
    print(f"{store.url}:")
    print("\n".join(render(found)))
    return EXIT_OK


def _open(db: str | None) -> Store | None:
    """A Store for the URL, or None after saying why the URL is unusable."""
    try:
        return Store(database_url(db, os.environ))
    except (ValueError, ArgumentError, ImportError) as exc:
        # messages from make_url and Store never repeat a password
        print(f"unusable database URL: {exc}", file=sys.stderr)
        return None


def _failed(what: str, exc: SQLAlchemyError, db: str | None) -> int:
    print(f"{what}: {describe_error(exc, database_url(db, os.environ))}", file=sys.stderr)
    return EXIT_FAILURE
