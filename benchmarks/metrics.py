"""/metrics size and render CPU for 1,000 and 10,000 targets.

    .venv/bin/python benchmarks/metrics.py [--targets 1000 10000] [--repeat 5] [--before REV]

`--before REV` measures the code of another revision too, in a child process
on its `git archive` tree (`make bench` compares with e212898, main before
issue 10 made /metrics small and cached).

An inventory like a province's, scaled: sites of three links (Viettel
fibre, VNPT fibre, MobiFone 4G) in eleven districts, five carriers with
four endpoints each. Every target has answered a round of five echoes
(RTTs spread like a real fleet's, so the printed numbers have realistic
lengths) and every site is judged. The exposition is rendered with
prometheus_client's own `generate_latest`, the way the HTTP port renders
it; printed per size:

- bytes of the exposition, bytes per target, series (lines with a value);
- CPU of one render (median of `--repeat`), and per target;
- the gzip size Prometheus receives (it sends `Accept-Encoding: gzip`) and
  the CPU of compressing it.

Nothing is sent on the network; the run is bounded (well under a minute).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from ipaddress import IPv4Address
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# --before REV renders with the code of another revision: its tree is put first
TREE = Path(os.environ.get("EXAMNET_BENCH_TREE", REPO))
sys.path.insert(0, str(TREE))

from prometheus_client import generate_latest  # noqa: E402

from monitor.config import load_inventory  # noqa: E402
from probes.pinger import PingerStats  # noqa: E402

try:  # the layout since the model layer (issue 11)
    from monitor.evaluation import SiteVerdict
    from monitor.evaluation.figures import RoundFigures
    from monitor.metrics import Metrics
    from monitor.model.inventory import Inventory
    from monitor.model.vocabulary import SiteStatus, TargetStatus
    from monitor.snapshot import (
        RttHistogram,
        SiteSnapshot,
        StoreFigures,
        TargetSnapshot,
        View,
    )
except ImportError:  # the layout before it, for --before revisions up to issue 10
    from monitor.figures import RoundFigures
    from monitor.inventory import Inventory

    from monitor.evaluation import SiteStatus, SiteVerdict, TargetStatus
    from monitor.metrics import Metrics, StoreFigures, View
    from monitor.snapshot import RttHistogram, SiteSnapshot, TargetSnapshot

DISTRICTS = ("Cao Lộc", "Lộc Bình", "Văn Lãng", "Tràng Định", "Bình Gia", "Văn Quan",
             "Bắc Sơn", "Hữu Lũng", "Chi Lăng", "Đình Lập", "TP Lạng Sơn")  # fmt: skip
CARRIERS = ("viettel", "vnpt", "mobifone", "fpt", "cmc")
LINKS = (("viettel-fibre", "viettel", "fibre"), ("vnpt-fibre", "vnpt", "fibre"),
         ("mobifone-4g", "mobifone", "4g"))  # fmt: skip
ENDPOINTS_PER_CARRIER = 4
ECHOES = 5
FIRST_ADDRESS = int(IPv4Address("127.16.0.1"))  # never probed: only written in the file


def sites_toml(targets: int) -> str:
    endpoints = len(CARRIERS) * ENDPOINTS_PER_CARRIER
    sites = max(1, (targets - endpoints) // len(LINKS))
    parts = ["""version = 1
[plan]
name = "benchmark"
timezone = "Asia/Ho_Chi_Minh"
[calendar]
during = { start = 2027-06-03T00:00:00, end = 2027-06-06T00:00:00 }
[[calendar.sessions]]
name = "Ngữ văn"
start = 2027-06-03T07:30:00
end = 2027-06-03T09:30:00
[probe]
interval = "60s"
session_interval = "10s"
"""]
    for c in CARRIERS:
        parts.append(f'[[carriers]]\nid = "{c}"\nname = "{c.upper()}"\n')
        for e in range(ENDPOINTS_PER_CARRIER):
            parts.append(f'[[endpoints]]\nid = "{c}-gw-{e}"\ncarrier = "{c}"\nkind = "gateway"\n'
                         f'address = "127.9.{CARRIERS.index(c)}.{e + 1}"\n')
    for i in range(sites):
        district = DISTRICTS[i % len(DISTRICTS)]
        parts.append(f'[[sites]]\nid = "thpt-{i:05d}"\nname = "THPT {i}"\n'
                     f'district = "{district}"\nmin_carriers = 2\n')
        for n, (link, carrier, kind) in enumerate(LINKS):
            parts.append(f'[[sites.links]]\nid = "{link}"\ncarrier = "{carrier}"\nkind = "{kind}"\n'
                         f'address = "{IPv4Address(FIRST_ADDRESS + i * len(LINKS) + n)}"\n'
                         f'upstream = "{carrier}-gw-{i % ENDPOINTS_PER_CARRIER}"\n')
    return "".join(parts)


def view_of(inventory: Inventory, rng: random.Random) -> View:
    now = datetime(2027, 6, 3, 8, 0, tzinfo=UTC)
    targets = []
    for target in inventory.targets():
        base = rng.lognormvariate(-6, 1)  # ~2.5 ms, a long tail to satellite paths
        rtts = sorted(base * rng.uniform(1, 1.3) for _ in range(ECHOES))
        figures = RoundFigures(
            sent=ECHOES, received=ECHOES, loss=0.0, rtt_min=rtts[0],
            rtt_avg=statistics.fmean(rtts), rtt_median=rtts[ECHOES // 2], rtt_max=rtts[-1],
            jitter=statistics.fmean(abs(b - a) for a, b in itertools.pairwise(rtts)),
        )  # fmt: skip
        last = now.timestamp() - rng.uniform(0, 10)
        targets.append(TargetSnapshot(target, TargetStatus.UP, figures, last, None,
                                      RttHistogram().add(rtts * 100)))  # fmt: skip
    sites = [SiteSnapshot(s, SiteVerdict(SiteStatus.OK, len(LINKS), ("viettel", "vnpt"), "ok", 2))
             for s in inventory.sites]  # fmt: skip
    return View(
        inventory=inventory, now=now, targets=targets, sites=sites,
        store=StoreFigures(queued=0, written_total=10**6, dropped_total=0, write_errors_total=0),
        pinger=PingerStats(sent=10**6, received=10**6), interval=10.0,
    )  # fmt: skip


def measure(targets: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="examnet-bench-") as directory:
        path = Path(directory) / "sites.toml"
        path.write_text(sites_toml(targets), encoding="utf-8")
        inventory = load_inventory(path, {})
    view = view_of(inventory, random.Random(targets))
    metrics = Metrics(view=lambda: view)
    # what the HTTP port sends; before issue 10 that was generate_latest(registry)
    render = getattr(metrics, "exposition", lambda: generate_latest(metrics.registry))
    cpu = []
    for _ in range(repeat + 1):
        started = time.process_time()
        body = render()
        cpu.append(time.process_time() - started)
    first, cpu = cpu[0], cpu[1:]
    started = time.process_time()
    packed = gzip.compress(body, compresslevel=6)
    gzip_cpu = time.process_time() - started
    count = len(list(inventory.targets()))
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    steady = statistics.median(cpu)
    return {
        "targets": count, "sites": len(inventory.sites), "bytes": len(body),
        "bytes_per_target": len(body) / count, "series": series,
        "series_per_target": series / count, "render_s": steady,
        "render_us_per_target": steady / count * 1e6, "first_s": first, "gzip_bytes": len(packed),
        "gzip_s": gzip_cpu,
    }  # fmt: skip


HEADER = ("code", "targets", "sites", "MB", "B/target", "series", "series/target",
          "render CPU s", "µs/target", "first render s", "gzip MB", "gzip CPU s")  # fmt: skip


def rows(label: str, targets: list[int], repeat: int) -> list[str]:
    out = []
    for n in targets:
        m = measure(n, repeat)
        out.append(
            f"| {label} | {m['targets']:,} | {m['sites']:,} | {m['bytes'] / 1e6:.2f} | "
            f"{m['bytes_per_target']:,.0f} | {m['series']:,.0f} | {m['series_per_target']:.1f} | "
            f"{m['render_s']:.3f} | {m['render_us_per_target']:.1f} | {m['first_s']:.3f} | "
            f"{m['gzip_bytes'] / 1e6:.2f} | {m['gzip_s']:.3f} |"
        )  # fmt: skip
    return out


def before(revision: str, targets: list[int], repeat: int) -> list[str]:
    """The same measure on the code of `revision` (its tree from `git archive`, run in a
    child process with that tree first on the path): the figures before a change."""
    with tempfile.TemporaryDirectory(prefix="examnet-bench-before-") as tree:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision],
                                 capture_output=True, check=True, timeout=60)  # fmt: skip
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True, timeout=60)
        done = subprocess.run(
            [sys.executable, __file__, "--rows-only", "--label", revision[:10],
             "--repeat", str(repeat), "--targets", *map(str, targets)],
            env={**os.environ, "EXAMNET_BENCH_TREE": tree}, capture_output=True, text=True,
            check=True, timeout=600, cwd=tree,
        )  # fmt: skip
    return done.stdout.splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also measure the code of this "
                        "git revision (e.g. e212898, main before issue 10's /metrics)")  # fmt: skip
    parser.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--label", default="now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rows_only:
        print("\n".join(rows(args.label, args.targets, args.repeat)))
        return 0
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" + "---:|" * (len(HEADER) - 1))
    if args.before:
        print("\n".join(before(args.before, args.targets, args.repeat)))
    print("\n".join(rows("now", args.targets, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
