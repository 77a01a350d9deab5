"""/metrics size and render CPU for 1,000 and 10,000 targets.

    .venv/bin/python benchmarks/metrics.py [--targets 1000 10000] [--repeat 5]

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
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from ipaddress import IPv4Address
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prometheus_client import generate_latest  # noqa: E402

from monitor.config import load_inventory  # noqa: E402
from monitor.evaluation import SiteVerdict  # noqa: E402
from monitor.evaluation.figures import RoundFigures  # noqa: E402
from monitor.metrics import Metrics  # noqa: E402
from monitor.model.inventory import Inventory  # noqa: E402
from monitor.model.vocabulary import SiteStatus, TargetStatus  # noqa: E402
from monitor.snapshot import RttHistogram, SiteSnapshot, StoreFigures, TargetSnapshot, View  # noqa: E402  # noqa: E402
from probes.pinger import PingerStats  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    header = ("targets", "sites", "MB", "B/target", "series", "series/target", "render CPU s",
              "µs/target", "first render s", "gzip MB", "gzip CPU s")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    for n in args.targets:
        m = measure(n, args.repeat)
        print(f"| {m['targets']:,} | {m['sites']:,} | {m['bytes'] / 1e6:.2f} | "
              f"{m['bytes_per_target']:,.0f} | {m['series']:,.0f} | {m['series_per_target']:.1f} | "
              f"{m['render_s']:.3f} | {m['render_us_per_target']:.1f} | {m['first_s']:.3f} | "
              f"{m['gzip_bytes'] / 1e6:.2f} | {m['gzip_s']:.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
