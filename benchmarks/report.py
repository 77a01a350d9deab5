"""The plan's report over a whole exam phase of a 1,000-site province: seconds and peak RSS.

    .venv/bin/python benchmarks/report.py [--sites 1000] [--round-every 600] [--postgres]

A synthetic province: `--sites` exam sites in eleven districts, each with a
Viettel fibre, a VNPT fibre and a MobiFone 4G link (behind four gateways
per carrier) and a UPS; a `during` phase of three days with two sessions a
day that ended a week ago (a report judges only windows that have begun),
a week before it and a week after. Its database (SQLite, or with
`--postgres` a private PostgreSQL cluster from tests/fixtures/postgres.py)
holds what such a phase leaves behind: the ICMP rounds of every link every
`--round-every` seconds (the report does not read them, but they are where
the incidents sit), and incidents at rates seen on real fleets: about one
`down`, one quality incident (loss, latency, jitter) per link per day, a
congestion now and then, gateway outages that reach their sites, sites that
lose redundancy or are isolated when their links fail together, mains
failures; a third of the incidents acknowledged.

Measured: the real `examnet report` command (a child process: load the
file, query, build, render) over the whole range, in HTML and in Markdown,
with its wall time and peak RSS; and a carrier-scoped report. Target:
< 10 s for the HTML over the whole phase (issue 13). Figures only; nothing
is asserted and nothing goes on the network but the loopback database.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from icmp import _watch_rss  # noqa: E402 - benchmarks/icmp.py's: the same measurement
from sqlalchemy import create_engine, insert, select  # noqa: E402

from monitor.config import load_inventory  # noqa: E402
from monitor.storage import Store  # noqa: E402
from monitor.storage.schema import (  # noqa: E402
    acks,
    incidents,
    monitor_runs,
    probe_rounds,
    targets,
)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DISTRICTS = ("Cao Lộc", "Lộc Bình", "Văn Lãng", "Tràng Định", "Bình Gia", "Văn Quan",
             "Bắc Sơn", "Hữu Lũng", "Chi Lăng", "Đình Lập", "TP Lạng Sơn")  # fmt: skip
LINKS = (("viettel-fibre", "viettel", "fibre"), ("vnpt-fibre", "vnpt", "fibre"),
         ("mobifone-4g", "mobifone", "4g"))  # fmt: skip
GATEWAYS = 4
FIRST = int(IPv4Address("127.16.0.1"))  # never probed: only written in the file
# The phase ended a week ago (local times): a report judges only what has happened.
_TODAY = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
DURING = (_TODAY - timedelta(days=10), _TODAY - timedelta(days=7))
SESSIONS = [(f"Ngày {d + 1} {part}", DURING[0] + timedelta(days=d, hours=h, minutes=m), minutes)
            for d in range(3)
            for part, h, m, minutes in (("sáng", 7, 30, 120), ("chiều", 14, 0, 120))]  # fmt: skip
_WEEK = timedelta(days=7)


def _toml(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def sites_toml(n: int) -> str:
    out = ['version = 1\n[plan]\nname = "benchmark province"\ntimezone = "Asia/Ho_Chi_Minh"',
           "[alerting]\nlanguage = \"vi\"",
           f"[calendar]\nbefore = {{ start = {_toml(DURING[0] - _WEEK)}, "
           f"end = {_toml(DURING[0])} }}",
           f"during = {{ start = {_toml(DURING[0])}, end = {_toml(DURING[1])} }}",
           f"after = {{ start = {_toml(DURING[1])}, "
           f"end = {_toml(DURING[1] + _WEEK)} }}"]  # fmt: skip
    for name, start, minutes in SESSIONS:
        end = start + timedelta(minutes=minutes)
        out.append(f'[[calendar.sessions]]\nname = "{name}"\nstart = {start:%Y-%m-%dT%H:%M:%S}\n'
                   f"end = {end:%Y-%m-%dT%H:%M:%S}")  # fmt: skip
    address = iter(range(FIRST, FIRST + 10 * n + 100))
    for carrier in ("viettel", "vnpt", "mobifone"):
        out.append(f'[[carriers]]\nid = "{carrier}"\nname = "{carrier.capitalize()}"')
        for g in range(GATEWAYS):
            out.append(f'[[endpoints]]\nid = "{carrier}-gw{g}"\ncarrier = "{carrier}"\n'
                       f'kind = "gateway"\naddress = "{IPv4Address(next(address))}"')  # fmt: skip
    for i in range(n):
        out.append(f'[[sites]]\nid = "s{i:04d}"\nname = "Điểm thi {i:04d}"\n'
                   f'district = "{DISTRICTS[i % len(DISTRICTS)]}"\nmin_carriers = 2')  # fmt: skip
        out.append(f'[[sites.devices]]\nid = "ups"\naddress = "{IPv4Address(next(address))}"\n'
                   'snmp = { version = "2c", community = "public-bench" }\nups = true')  # fmt: skip
        for link, carrier, kind in LINKS:
            out.append(f'[[sites.links]]\nid = "{link}"\ncarrier = "{carrier}"\nkind = "{kind}"\n'
                       f'address = "{IPv4Address(next(address))}"\n'
                       f'upstream = "{carrier}-gw{i % GATEWAYS}"')  # fmt: skip
    return "\n".join(out) + "\n"


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=ZONE).astimezone(UTC)


def _sessions_of(start: datetime, end: datetime) -> list[str]:
    return [n for n, s, m in SESSIONS
            if _utc(s) < end and _utc(s + timedelta(minutes=m)) > start]  # fmt: skip


def _row(rng: random.Random, subject_kind: str, subject: str, kind: str, start: datetime,  # noqa: PLR0917 - one row's facts
         length: float, **extra: Any) -> dict[str, Any]:  # fmt: skip
    end = start + timedelta(seconds=length)
    phase = "during" if _utc(DURING[0]) <= start < _utc(DURING[1]) else "before"
    row = {"subject_kind": subject_kind, "subject": subject, "kind": kind, "started_at": start,
           "ended_at": end, "severity": rng.choice(("warning", "critical")), "phase": phase,
           "reason": f"{kind} (benchmark)", "updated_at": end, "carrier": None, "site": None,
           "sessions": _sessions_of(start, end), "worst_loss": None, "worst_rtt_ms": None,
           "worst_utilisation": None, "cause": None, "affected": []}  # fmt: skip
    row.update(extra)
    return row


def _link_incidents(rng: random.Random, site: str, moment: Any, days: float
                    ) -> Iterator[dict[str, Any]]:  # fmt: skip
    for link, carrier, _ in LINKS:
        subject = f"link:{site}/{link}"
        on = {"carrier": carrier, "site": site}
        for _ in range(rng.randrange(int(2 * days) + 1)):  # ~1 a day
            yield _row(rng, "target", subject, "down", moment(), rng.expovariate(1 / 300),
                       worst_loss=1.0, **on)  # fmt: skip
        for _ in range(rng.randrange(int(2 * days) + 1)):
            kind = rng.choice(("loss", "latency", "jitter", "rtt_anomaly"))
            yield _row(rng, "target", subject, kind, moment(), rng.expovariate(1 / 600),
                       worst_loss=rng.random() * 0.3, worst_rtt_ms=rng.uniform(80, 900), **on)
        if rng.random() < 0.2:
            yield _row(rng, "target", subject, "congested", moment(),
                       rng.expovariate(1 / 900), worst_utilisation=rng.uniform(0.9, 1), **on)


def _site_incidents(rng: random.Random, site: str, moment: Any) -> Iterator[dict[str, Any]]:
    for _ in range(rng.randrange(3)):  # links failing together
        kind = "isolated" if rng.random() < 0.2 else "lost_redundancy"
        yield _row(rng, "site", site, kind, moment(), rng.expovariate(1 / 240), site=site)
    if rng.random() < 0.3:
        start = moment()
        yield _row(rng, "power", site, "on_battery", start, rng.expovariate(1 / 1200), site=site)
        if rng.random() < 0.2:
            yield _row(rng, "power", site, "power_low", start + timedelta(minutes=15), 300,
                       site=site)  # fmt: skip


def incident_rows(n: int, rng: random.Random, since: datetime, until: datetime
                  ) -> Iterator[dict[str, Any]]:  # fmt: skip
    span = (until - since).total_seconds()

    def moment() -> datetime:
        return since + timedelta(seconds=rng.uniform(0, span))

    for i in range(n):
        yield from _link_incidents(rng, f"s{i:04d}", moment, span / 86400)
        yield from _site_incidents(rng, f"s{i:04d}", moment)
    for carrier in ("viettel", "vnpt", "mobifone"):
        for g in range(GATEWAYS):
            for _ in range(rng.randrange(3)):
                reached = [f"s{i:04d}" for i in range(g, n, GATEWAYS)]
                yield _row(rng, "target", f"endpoint:{carrier}-gw{g}", "endpoint_down", moment(),
                           rng.expovariate(1 / 600), carrier=carrier, affected=reached)


def fill(url: str, inventory: Any, n: int, every: float, rng: random.Random) -> dict[str, int]:
    store = Store(url)
    store.upgrade()
    store.register_targets(inventory.targets())
    store.close()
    since, until = _utc(DURING[0]) - timedelta(days=1), _utc(DURING[1]) + timedelta(hours=12)
    engine = create_engine(url)
    counts = {"incidents": 0, "acks": 0, "rounds": 0}
    with engine.begin() as conn:
        rows = list(incident_rows(n, rng, since, until))
        conn.execute(insert(incidents), rows)
        counts["incidents"] = len(rows)
        ids = [(r.id, r.started_at) for r in conn.execute(select(incidents.c.id,
                                                                 incidents.c.started_at))]
        chosen = [(i, s) for i, s in ids if rng.random() < 1 / 3]
        conn.execute(insert(acks), [
            {"incident_id": i, "acked_by": "noc", "note": "",
             "acked_at": s + timedelta(seconds=rng.expovariate(1 / 180))} for i, s in chosen
        ])  # fmt: skip
        counts["acks"] = len(chosen)
        links = [r.id for r in conn.execute(select(targets.c.id).where(targets.c.kind == "link"))]
        # the monitor watched the whole phase: one run, stopped after it
        conn.execute(insert(monitor_runs).values(started_at=since, seen_at=until, stopped_at=until))
    moments = int((until - since).total_seconds() // every)
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for k in range(moments):
            at = since + timedelta(seconds=k * every)
            for target in links:
                rtt = rng.lognormvariate(3, 0.4)
                batch.append({"target_id": target, "started_at": at, "duration_ms": 900.0,
                              "sent": 5, "received": 5, "loss": 0.0, "rtt_min_ms": rtt * 0.9,
                              "rtt_avg_ms": rtt, "rtt_median_ms": rtt, "rtt_max_ms": rtt * 1.2,
                              "jitter_ms": rtt * 0.05, "error": None})  # fmt: skip
            if len(batch) >= 20000:
                conn.execute(insert(probe_rounds), batch)
                counts["rounds"] += len(batch)
                batch = []
        if batch:
            conn.execute(insert(probe_rounds), batch)
            counts["rounds"] += len(batch)
    engine.dispose()
    return counts


def run_report(config: Path, url: str, out: Path, *extra: str) -> tuple[float, float]:
    """The real command in a child: wall seconds and the child's peak RSS (MB)."""
    since = _utc(DURING[0]) - timedelta(days=1)
    until = _utc(DURING[1]) + timedelta(hours=12)
    command = [sys.executable, "-m", "monitor", "report", "--config", str(config), "--db", url,
               "--from", since.isoformat(), "--to", until.isoformat(), "--output", str(out),
               *extra]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO)
    # ru_maxrss of a child counts the Python process it was forked from (this one,
    # which holds the rows it wrote): sample the command's own high-water mark
    peak = [0]
    watcher = threading.Thread(target=_watch_rss, args=(proc.pid, peak), daemon=True)
    watcher.start()
    _, status, _usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    watcher.join()
    if status != 0:
        raise SystemExit(f"examnet report failed: {status}")
    return wall, peak[0] / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--round-every", type=float, default=600.0, help="seconds between rounds")
    parser.add_argument("--postgres", action="store_true", help="also on a private PostgreSQL")
    args = parser.parse_args()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory(prefix="examnet-report-bench-") as tmp:
        base = Path(tmp)
        config = base / "sites.toml"
        config.write_text(sites_toml(args.sites), encoding="utf-8")
        inventory = load_inventory(config, {})
        urls = [("SQLite", f"sqlite:///{base / 'bench.db'}")]
        cluster = None
        if args.postgres:
            from tests.fixtures.postgres import PostgresCluster, _bindir  # noqa: PLC0415

            bindir = _bindir()
            if bindir is None:
                raise SystemExit("--postgres needs the PostgreSQL server (Debian postgresql)")
            cluster = PostgresCluster(bindir, Path(tempfile.mkdtemp(prefix="examnet-pg-")))
            cluster.init()
            cluster.start()
            urls.append(("PostgreSQL", cluster.url("bench")))
        try:
            for label, url in urls:
                _measure(label, url, config=config, inventory=inventory, args=args, rng=rng,
                         base=base)
        finally:
            if cluster is not None:
                cluster.destroy()


def _measure(label: str, url: str, *, config: Path, inventory: Any, args: argparse.Namespace,
             rng: random.Random, base: Path) -> None:  # fmt: skip
    start = time.perf_counter()
    counts = fill(url, inventory, args.sites, args.round_every, rng)
    filled = time.perf_counter() - start
    print(f"{label}: {args.sites} sites, {3 * args.sites} links, phase of 3 days "
          f"({len(SESSIONS)} sessions): {counts['incidents']:,} incidents, {counts['acks']:,} "
          f"acks, {counts['rounds']:,} rounds (written in {filled:.1f} s)")  # fmt: skip
    for name, extra in (("HTML, whole phase", ("--format", "html")),
                        ("Markdown, whole phase", ("--format", "md")),
                        ("HTML, carrier vnpt", ("--format", "html", "--carrier", "vnpt")),
                        ("HTML, one session", ("--format", "html", "--session",
                                               SESSIONS[0][0]))):  # fmt: skip
        out = base / "report.out"
        wall, rss = run_report(config, url, out, *extra)
        size = out.stat().st_size / 1e6
        text = out.read_text(encoding="utf-8")
        windows = text.count("<section") or text.count("\n## ") - 1  # sessions and phases
        print(f"  {name:<24} {wall:6.2f} s  peak RSS {rss:6.1f} MB  output {size:5.2f} MB  "
              f"{windows} windows")  # fmt: skip


if __name__ == "__main__":
    main()
