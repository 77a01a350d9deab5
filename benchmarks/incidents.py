"""`GET /api/incidents` over 100,000 stored incidents, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/incidents.py [--incidents N] [--repeat N] [--db sqlite postgresql]

Issue 13's target: a filtered page answers in < 200 ms (median). The
history of a busy province: 1,000 sites in 11 districts, three carriers a
site, incidents of every kind over a year (one in twenty still open, one in
three acknowledged), written with the store's own row shape. The API is the
real one (FastAPI on uvicorn, `monitor.web`), asked over loopback HTTP with
a NOC token and a carrier token; each query is timed end to end (request to
the last byte of the JSON) and printed with its median, p95 and the number
of incidents it finds in all. PostgreSQL is a private cluster started for
the run (tests/fixtures/postgres.py) and removed after it.

Nothing leaves loopback; the run is bounded (a few minutes at 100,000).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert  # noqa: E402

from monitor import api  # noqa: E402
from monitor.model.clock import SystemClock  # noqa: E402
from monitor.model.records import IncidentRecord  # noqa: E402
from monitor.storage import Store  # noqa: E402
from monitor.storage.incident_rows import incident_row  # noqa: E402
from monitor.storage.schema import acks, incidents  # noqa: E402
from monitor.web import web_app  # noqa: E402
from monitor.web.access import Access  # noqa: E402
from monitor.web.server import WebServer  # noqa: E402

CARRIERS = ("viettel", "vnpt", "mobifone")
KINDS = ("down", "loss", "latency", "congested", "isolated", "lost_redundancy", "on_battery")
SEVERITIES = ("info", "warning", "critical")
PHASES = ("before", "during", "after", "outside")
SESSIONS = ("Ngữ văn", "Toán", "Tiếng Anh", "Chuyên")
SITES = 1000
DISTRICTS = 11
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 5000


def site_of(n: int) -> str:
    return f"thpt-{n:04d}"


def district_of(n: int) -> str:
    return f"district-{n % DISTRICTS:02d}"


def records(count: int, rng: random.Random) -> Iterator[IncidentRecord]:
    """A year of incidents, oldest first; every 20th still open."""
    step = timedelta(days=365) / count
    for i in range(count):
        site = rng.randrange(SITES)
        carrier = CARRIERS[rng.randrange(len(CARRIERS))]
        started = START + i * step
        lasted = timedelta(seconds=rng.randrange(30, 3 * 3600))
        ended = None if i % 20 == 0 else started + lasted
        kind = KINDS[rng.randrange(len(KINDS))]
        phase = PHASES[rng.randrange(len(PHASES))]
        sessions = (SESSIONS[rng.randrange(len(SESSIONS))],) if phase == "during" else ()
        yield IncidentRecord(
            subject_kind="target",
            subject=f"link:{site_of(site)}/{carrier}-fibre",
            kind=kind,  # type: ignore[arg-type]
            started_at=started,
            ended_at=ended,
            severity=SEVERITIES[rng.randrange(len(SEVERITIES))],  # type: ignore[arg-type]
            phase=phase,  # type: ignore[arg-type]
            reason=f"{kind} on {carrier}-fibre at Trường THPT số {site}",
            updated_at=ended or started,
            carrier=carrier,
            site=site_of(site),
            sessions=sessions,
            cause=None,
            affected=(),
            worst_loss=rng.random(),
            worst_rtt_ms=rng.uniform(5, 900),
        )


def seed(store: Store, count: int) -> float:
    """Write `count` incidents (and an ack for a third of them); the seconds it took."""
    began = time.perf_counter()
    rng = random.Random(13)
    store.upgrade()
    engine = store._engine  # bulk rows for the benchmark, in the store's own shape
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for rec in records(count, rng):
            batch.append(incident_row(rec))
            if len(batch) == BATCH:
                conn.execute(insert(incidents), batch)
                batch.clear()
        if batch:
            conn.execute(insert(incidents), batch)
        ids = [row.id for row in conn.execute(incidents.select().with_only_columns(incidents.c.id))]
        rows = [
            {
                "incident_id": i,
                "acked_by": "noc-1",
                "note": "",
                "acked_at": START + timedelta(days=1),
            }
            for i in ids[::3]
        ]
        for at in range(0, len(rows), BATCH):
            conn.execute(insert(acks), rows[at : at + BATCH])
    return time.perf_counter() - began


QUERIES: list[tuple[str, str, dict[str, str]]] = [
    ("noc", "newest page, no filter", {}),
    ("noc", "carrier", {"carrier": "vnpt"}),
    ("noc", "site", {"site": site_of(417)}),
    ("noc", "district", {"district": district_of(3)}),
    ("noc", "kind + closed", {"kind": "down", "state": "closed"}),
    ("noc", "open", {"state": "open"}),
    (
        "noc",
        "one week",
        {"since": "2026-06-01T00:00:00+07:00", "until": "2026-06-08T00:00:00+07:00"},
    ),
    ("noc", "exam session", {"session": "Toán", "phase": "during"}),
    ("noc", "severity sort", {"severity": "critical", "sort": "-severity"}),
    ("noc", "free text", {"q": "THPT số 41"}),
    ("noc", "deep page", {"offset": "50000", "limit": "100"}),
    ("carrier", "carrier token", {}),
    ("carrier", "carrier token + text", {"q": "fibre", "kind": "loss"}),
]


@contextmanager
def served(store: Store) -> Iterator[str]:
    clock = SystemClock()
    districts = {site_of(n): district_of(n) for n in range(SITES)}
    app = web_app(
        api=api.router(store.alerting, clock, lambda: None, districts=lambda: districts),
        access=Access(),
    )
    server = WebServer(("127.0.0.1", 0), app)
    server.start()
    try:
        host, port = server.address
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def timed(url: str, token: str) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http on loopback
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - http on loopback
        body = answer.read()
    elapsed = time.perf_counter() - began
    return elapsed, int(json.loads(body)["total"])


def measure(store: Store, repeat: int) -> None:
    now = datetime.now(UTC)
    noc, _ = store.alerting.access.create_token(
        name="bench-noc", role="noc", carrier=None, expires_at=None, by="bench", now=now
    )
    carrier, _ = store.alerting.access.create_token(
        name="bench-vnpt", role="carrier", carrier="vnpt", expires_at=None, by="bench", now=now
    )
    tokens = {"noc": noc, "carrier": carrier}
    with served(store) as base:
        print(f"  {'query':<24} {'median':>9} {'p95':>9} {'found':>8}")
        medians: list[float] = []
        for who, name, params in QUERIES:
            url = f"{base}/api/incidents?{urllib.parse.urlencode(params)}"
            timed(url, tokens[who])  # warm the caches, as a second visitor finds them
            runs = [timed(url, tokens[who]) for _ in range(repeat)]
            times = sorted(t for t, _ in runs)
            median = statistics.median(times)
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            medians.append(median)
            print(f"  {name:<24} {median * 1000:>7.1f}ms {p95 * 1000:>7.1f}ms {runs[0][1]:>8}")
        worst = max(medians)
        verdict = "met" if worst < 0.2 else "NOT met"
        print(f"  worst median {worst * 1000:.1f} ms: target < 200 ms {verdict}")


def with_postgres(run: Callable[[str], None]) -> None:
    from tests.fixtures.postgres import PostgresCluster, _bindir  # noqa: PLC0415

    bindir = _bindir()
    if bindir is None:
        print("PostgreSQL: no server binaries (Debian package postgresql); skipped")
        return
    cluster = PostgresCluster(bindir, Path(tempfile.mkdtemp(prefix="examnet-bench-pg-")))
    try:
        cluster.init()
        cluster.start()
        run(cluster.url("examnet_bench"))
    finally:
        cluster.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()

    def run(url: str) -> None:
        store = Store(url)
        try:
            took = seed(store, args.incidents)
            print(f"  seeded {args.incidents:,} incidents in {took:.1f} s")
            measure(store, args.repeat)
        finally:
            store.close()

    for db in args.db:
        print(f"{db}: /api/incidents over {args.incidents:,} incidents")
        if db == "sqlite":
            with tempfile.TemporaryDirectory(prefix="examnet-bench-") as tmp:
                run(f"sqlite:///{tmp}/history.db")
        else:
            with_postgres(run)


if __name__ == "__main__":
    main()
